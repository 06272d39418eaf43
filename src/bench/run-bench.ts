import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DecodeOptions } from '../detectors/detector';
import { LoadedModel, loadModel } from '../engine/build-engine';
import { PrivateRedis, startPrivateRedis } from '../queue/private-redis';
import type { ServeLoadRow } from '../serve/serve-load';
import { BenchImageSet, loadBenchImages, materializeImages, meanViews } from './bench-images';
import { BenchOptions, BenchPhase, effectiveConcurrency } from './bench-options';
import type { BenchReport, SweepRow, TargetCheck } from './bench-report';
import { measureCeiling } from './ceiling';
import { EnqueueRate, measureEnqueue } from './enqueue-rate';
import { measureInProcess } from './in-process';
import { measureNaive } from './naive';
import type { PhaseResult, PipelineResult } from './phase-result';
import { measurePipeline } from './pipeline';
import { measureServe } from './serve-phase';
import type { ProgressSink } from './progress';
import { median, ratio } from './stats';

/** The parts every measurement shares: the loaded model, the photos, the work folder, Redis. */
interface BenchContext {
  options: Readonly<BenchOptions>;
  model: LoadedModel;
  decode: DecodeOptions;
  set: BenchImageSet;
  workDir: string;
  sourceDir: string;
  keys: string[];
  redis?: PrivateRedis;
  progress: ProgressSink;
}

/**
 * Runs the benchmark: loads the model once (its inference thread serves the ceiling and in-process
 * measurements), decodes the photos, lays out `count` images in a temp folder, starts a private
 * redis-server for the queue measurements, then measures ceiling → in-process → pipeline → naive in
 * that order `rounds` times (interleaved, so drift in the machine's load hits every measurement
 * alike) and reports the median round of each; the enqueue rate; with `sweep`, the table against
 * batch size and worker processes; with `serve`, the HTTP API under load. Everything it started is
 * stopped and removed, also on failure.
 */
export async function runBench(options: Readonly<BenchOptions>, progress: ProgressSink): Promise<BenchReport> {
  const loadStart = os.loadavg()[0];
  progress.phase(`loading ${options.model.model}`);
  const model = await loadModel(options.model, { onPull: (m) => progress.end(m) });
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'facefleet-bench-'));
  let redis: PrivateRedis | undefined;
  try {
    const set = await loadBenchImages(options.imagesDir, model.detector.input, options.limits, model.engine.tiling);
    const sourceDir = path.join(workDir, 'images');
    const keys = await materializeImages(set, options.count, sourceDir);
    const queued: BenchPhase[] = ['pipeline', 'naive', 'enqueue'];
    if (queued.some((p) => options.phases.has(p)) || (options.sweep && options.sweepPhases.has('pipeline')) || options.serve) redis = await startPrivateRedis();
    const decode: DecodeOptions = { ...model.detector.defaults, ...(options.model.scoreThreshold !== undefined ? { scoreThreshold: options.model.scoreThreshold } : {}) };
    const ctx: BenchContext = { options, model, decode, set, workDir, sourceDir, keys, redis, progress };
    progress.end(`${model.detector.id} ${model.detector.version} loaded in ${Math.round(model.loadMs)} ms; ${set.images.length} photos${set.skipped.length ? `, ${set.skipped.length} skipped (undecodable)` : ''}`);

    const rounds: Record<'ceiling' | 'inProcess' | 'pipeline' | 'naive', PhaseResult[]> = { ceiling: [], inProcess: [], pipeline: [], naive: [] };
    const enqueueRounds: EnqueueRate[] = [];
    const batch = options.model.batch;
    for (let r = 0; r < options.rounds; r++) {
      const tag = options.rounds > 1 ? ` (round ${r + 1}/${options.rounds})` : '';
      if (options.phases.has('ceiling')) rounds.ceiling.push(await step(ctx, `ceiling${tag}`, () => ceilingAt(ctx, batch)));
      if (options.phases.has('in-process')) rounds.inProcess.push(await step(ctx, `in-process${tag}`, () => inProcessAt(ctx, batch)));
      if (options.phases.has('pipeline')) rounds.pipeline.push(await step(ctx, `pipeline, ${options.workers} worker process(es)${tag}`, () => pipelineAt(ctx, batch, options.workers)));
      if (options.phases.has('naive')) rounds.naive.push(await step(ctx, `naive${tag}`, () => naiveRun(ctx)));
      if (options.phases.has('enqueue')) {
        progress.phase(`enqueue, ${options.enqueueKeys.toLocaleString('en-US')} keys${tag}`);
        const e = await measureEnqueue({ redisUrl: redis!.url, keys: options.enqueueKeys, workDir, model: model.detector.id }, progress);
        progress.end(`${e.keysPerSecond.toLocaleString('en-US')} keys/s`);
        enqueueRounds.push(e);
      }
    }
    const sweep = options.sweep ? await runSweep(ctx) : null;
    let serve: ServeLoadRow[] | null = null;
    if (options.serve) {
      progress.phase('serve: POST /v1/detect, closed loop, batching on and off');
      serve = await measureServe(set, { redisUrl: redis!.url, model: options.model, seconds: options.serveSeconds }, progress);
    }
    const phases = {
      ceiling: medianOf(rounds.ceiling),
      inProcess: medianOf(rounds.inProcess),
      pipeline: medianOf(rounds.pipeline) as PipelineResult | null,
      naive: medianOf(rounds.naive),
      enqueue: enqueueRounds.length ? [...enqueueRounds].sort((a, b) => a.keysPerSecond - b.keysPerSecond)[Math.floor((enqueueRounds.length - 1) / 2)] : null,
    };
    return buildReport(ctx, phases, rounds, enqueueRounds, sweep, serve, loadStart);
  } finally {
    await model.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

async function step<T extends PhaseResult>(ctx: BenchContext, label: string, run: () => Promise<T>): Promise<T> {
  ctx.progress.phase(label);
  const result = await run();
  ctx.progress.end(`${result.imagesPerSecond} images/s (${result.images} images in ${result.seconds.toFixed(2)} s${result.failed ? `, ${result.failed} failed` : ''})`);
  return result;
}

function ceilingAt(ctx: BenchContext, batch: number): Promise<PhaseResult> {
  return measureCeiling(ctx.model.session, ctx.model.detector, ctx.set, { batch, seconds: ctx.options.seconds }, ctx.progress);
}

function inProcessAt(ctx: BenchContext, batch: number): Promise<PhaseResult> {
  const { options } = ctx;
  return measureInProcess(ctx.model.detector, ctx.model.session, ctx.set, {
    batch,
    maxWaitMs: options.model.maxWaitMs,
    concurrency: effectiveConcurrency(options, batch),
    count: options.count,
    decode: ctx.decode,
    limits: options.limits,
    tiling: ctx.model.engine.tiling,
  }, ctx.progress);
}

function pipelineAt(ctx: BenchContext, batch: number, workers: number): Promise<PipelineResult> {
  return measurePipeline({
    redisUrl: ctx.redis!.url,
    model: ctx.options.model,
    batch,
    workers,
    concurrency: effectiveConcurrency(ctx.options, batch),
    sourceDir: ctx.sourceDir,
    keys: ctx.keys,
    resultsDir: path.join(ctx.workDir, 'results'),
    profileDir: ctx.options.profileDir,
  }, ctx.progress);
}

function naiveRun(ctx: BenchContext): Promise<PhaseResult> {
  return measureNaive({
    redisUrl: ctx.redis!.url,
    modelPath: ctx.model.modelPath,
    detector: ctx.model.detector,
    threads: ctx.options.model.threads,
    decode: ctx.decode,
    limits: ctx.options.limits,
    sourceDir: ctx.sourceDir,
    keys: ctx.keys,
    resultsDir: path.join(ctx.workDir, 'results'),
    seconds: ctx.options.seconds,
    tiling: ctx.model.engine.tiling,
  }, ctx.progress);
}

/** Images/s against batch size (ceiling, in-process, pipeline with each worker count), one round each. */
async function runSweep(ctx: BenchContext): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  const batches = ctx.model.detector.dynamicBatch ? ctx.options.sweepBatches : [1];
  for (const b of batches) {
    const row: SweepRow = { batch: b, ceiling: null, inProcess: null, pipeline: {}, rssPeakMb: {}, contention: null };
    const contended = (p: PhaseResult) => {
      if (p.contention !== null) row.contention = Math.max(row.contention ?? 0, p.contention);
      return p;
    };
    if (ctx.options.sweepPhases.has('ceiling')) row.ceiling = contended(await step(ctx, `sweep: ceiling, batch ${b}`, () => ceilingAt(ctx, b))).imagesPerSecond;
    if (ctx.options.sweepPhases.has('in-process')) row.inProcess = contended(await step(ctx, `sweep: in-process, batch ${b}`, () => inProcessAt(ctx, b))).imagesPerSecond;
    for (const k of ctx.options.sweepPhases.has('pipeline') ? ctx.options.sweepWorkers : []) {
      const p = contended(await step(ctx, `sweep: pipeline, batch ${b}, ${k} worker process(es)`, () => pipelineAt(ctx, b, k)));
      row.pipeline[String(k)] = p.imagesPerSecond;
      row.rssPeakMb[String(k)] = (p as PipelineResult).rssPeakMb;
    }
    rows.push(row);
  }
  return rows;
}

/** The round with the median images/s (the lower middle for an even count); `null` for none. */
function medianOf<T extends PhaseResult>(results: T[]): T | null {
  if (results.length === 0) return null;
  return [...results].sort((a, b) => a.imagesPerSecond - b.imagesPerSecond)[Math.floor((results.length - 1) / 2)];
}

function buildReport(
  ctx: BenchContext,
  phases: BenchReport['phases'],
  rounds: Record<'ceiling' | 'inProcess' | 'pipeline' | 'naive', PhaseResult[]>,
  enqueueRounds: EnqueueRate[],
  sweep: SweepRow[] | null,
  serve: ServeLoadRow[] | null,
  loadStart: number,
): BenchReport {
  const { options, model, set } = ctx;
  const ips = (p: PhaseResult | null) => p?.imagesPerSecond ?? null;
  const ratios = {
    pipelineVsInProcess: ratio(ips(phases.pipeline), ips(phases.inProcess)),
    pipelineVsCeiling: ratio(ips(phases.pipeline), ips(phases.ceiling)),
    pipelineVsNaive: ratio(ips(phases.pipeline), ips(phases.naive)),
  };
  const rssAtMb = phases.pipeline?.rssAtMb ?? {};
  const rssGrowth = rssAtMb['1000'] && rssAtMb['10000'] ? ratio(rssAtMb['10000'], rssAtMb['1000']) : null;
  const check = (what: string, target: number, measured: number | null, tolerance?: number): TargetCheck => ({
    what,
    target,
    comparison: tolerance === undefined ? 'atLeast' : 'within',
    ...(tolerance === undefined ? {} : { tolerance }),
    measured,
    met: measured === null ? null : tolerance === undefined ? measured >= target : Math.abs(measured - target) <= tolerance + 1e-9,
  });
  const warnings = [...model.warnings];
  for (const [name, p] of Object.entries(phases)) if (p && 'failed' in p && p.failed > 0) warnings.push(`${name}: ${p.failed} images failed`);
  const loadEnd = os.loadavg()[0];
  const contended = Object.entries(phases).filter(([, p]) => p && 'contention' in p && (p.contention ?? 0) > 0.1).map(([k, p]) => `${k} ${Math.round(((p as PhaseResult).contention ?? 0) * 100)}%`);
  if (contended.length) warnings.push(`other processes used part of the machine's CPU during: ${contended.join(', ')}; those figures are below this machine's capacity`);
  if (Math.max(loadStart, loadEnd) > os.cpus().length) warnings.push(`the load average (${loadStart.toFixed(1)} → ${loadEnd.toFixed(1)}) exceeded the ${os.cpus().length} CPUs: other work shared the machine, so compare ratios, not absolute figures`);
  const roundsMeasured: Record<string, number[]> = {};
  const roundRatios: BenchReport['roundRatios'] = {};
  if (options.rounds > 1) {
    const pairs = [['pipelineVsInProcess', 'inProcess'], ['pipelineVsCeiling', 'ceiling'], ['pipelineVsNaive', 'naive']] as const;
    for (const [name, other] of pairs) {
      if (!rounds.pipeline.length || !rounds[other].length) continue;
      const perRound = rounds.pipeline.map((p, i) => ratio(p.imagesPerSecond, rounds[other][i]?.imagesPerSecond));
      roundRatios[name] = { perRound, median: median(perRound.filter((v): v is number => v !== null)) };
    }
    for (const [k, list] of Object.entries(rounds)) if (list.length) roundsMeasured[k] = list.map((p) => p.imagesPerSecond);
    if (enqueueRounds.length) roundsMeasured.enqueue = enqueueRounds.map((e) => e.keysPerSecond);
  }
  // With rounds, a target is judged on the median of the per-round ratios.
  const byRound = (name: string) => (roundRatios[name] ? ' (median of rounds)' : '');
  const targets = [
    check(`pipeline / in-process${byRound('pipelineVsInProcess')}`, 0.95, roundRatios.pipelineVsInProcess?.median ?? ratios.pipelineVsInProcess),
    check(`pipeline / naive${byRound('pipelineVsNaive')}`, 2, roundRatios.pipelineVsNaive?.median ?? ratios.pipelineVsNaive),
    check('enqueue keys/s', 20_000, phases.enqueue?.keysPerSecond ?? null),
    check('RSS after 10,000 / after 1,000 images', 1, rssGrowth, 0.1),
  ];
  const input = model.detector.input;
  return {
    model: { id: model.detector.id, version: model.detector.version, path: model.modelPath, canvas: { width: input.width, height: input.height }, dynamicBatch: model.detector.dynamicBatch, maxTiles: model.engine.tiling?.maxTiles ?? 0, meanViews: meanViews(set) },
    settings: {
      batch: options.model.batch,
      threads: options.model.threads,
      workers: options.workers,
      concurrency: effectiveConcurrency(options, options.model.batch),
      maxWaitMs: options.model.maxWaitMs,
      count: options.count,
      seconds: options.seconds,
      rounds: options.rounds,
      imagesDir: set.dir,
      photos: set.images.map((i) => i.name),
      skipped: set.skipped,
      enqueueKeys: options.enqueueKeys,
    },
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(os.totalmem() / 1024 / 1024),
      node: process.version,
      nice: os.getPriority(),
      loadAverage: { start: Math.round(loadStart * 100) / 100, end: Math.round(loadEnd * 100) / 100 },
      env: Object.fromEntries(['MALLOC_ARENA_MAX', 'UV_THREADPOOL_SIZE', 'NODE_OPTIONS', 'FACEFLEET_DECODE_THREADS', 'FACEFLEET_ORT_ALLOW_SPINNING'].map((k) => [k, process.env[k] ?? null])),
    },
    ceiling: ips(phases.ceiling),
    inProcess: ips(phases.inProcess),
    pipeline: ips(phases.pipeline),
    naive: ips(phases.naive),
    enqueuePerSecond: phases.enqueue?.keysPerSecond ?? null,
    enqueueAddBulkPerSecond: phases.enqueue?.addBulkPerSecond ?? null,
    ratios,
    rssPeakMb: phases.pipeline?.rssPeakMb ?? null,
    rssAtMb,
    averageBatchSize: { inProcess: phases.inProcess?.averageBatchSize ?? null, pipeline: phases.pipeline?.averageBatchSize ?? null },
    cpuMsPerImage: {
      ceiling: phases.ceiling?.cpuMsPerImage ?? null,
      inProcess: phases.inProcess?.cpuMsPerImage ?? null,
      pipeline: phases.pipeline?.cpuMsPerImage ?? null,
      naive: phases.naive?.cpuMsPerImage ?? null,
    },
    contention: {
      ceiling: phases.ceiling?.contention ?? null,
      inProcess: phases.inProcess?.contention ?? null,
      pipeline: phases.pipeline?.contention ?? null,
      naive: phases.naive?.contention ?? null,
    },
    stages: { ceiling: phases.ceiling?.stages ?? null, inProcess: phases.inProcess?.stages ?? null, pipeline: phases.pipeline?.stages ?? null, naive: phases.naive?.stages ?? null },
    phases,
    roundsMeasured,
    roundRatios,
    targets,
    sweep,
    serve,
    warnings,
  };
}
