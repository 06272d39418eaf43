import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DecodeOptions } from '../../src/detectors/detector';
import { LoadedModel, loadModel } from '../../src/engine/build-engine';
import { isDeviceProvider } from '../../src/inference/provider-libraries';
import { PrivateRedis, startRedis } from '../harness/redis';
import { BenchImageSet, loadBenchImages, materializeImages, meanBytes, meanMegapixels, meanViews } from './bench-images';
import { BenchOptions, BenchPhase, BenchSetName, effectiveConcurrency } from './bench-options';
import type { BenchReport, BenchSetReport, SetPhase, SweepRow, TargetCheck } from './bench-report';
import { ensureCameraSet } from './camera-set';
import { measureCeiling } from './ceiling';
import { GpuPhases } from './gpu-utilisation';
import { CpuPhases } from './cpu-phases';
import { EnqueueRate, measureEnqueue } from './enqueue-rate';
import { FleetCost, measureFleet } from './fleet';
import { measureInProcess } from './in-process';
import { runInferencePhase } from './inference-sweep';
import { measureNaive } from './naive';
import type { PhaseResult, PipelineResult } from './phase-result';
import { measurePipeline } from './pipeline';
import { measureServe } from './serve-phase';
import type { ProgressSink } from './progress';
import type { ServeLoadRow } from './serve-load';
import { median, ratio } from './stats';

/** The parts every measurement shares: the loaded model, the work folder, Redis. */
interface BenchContext {
  options: Readonly<BenchOptions>;
  model: LoadedModel;
  decode: DecodeOptions;
  workDir: string;
  redis?: PrivateRedis;
  progress: ProgressSink;
  /** The stage profile and the plain loops (`--phases stages,plain-loop`). */
  cpu: CpuPhases;
}

/** One photo set with its images laid out for the queue measurements. */
interface SetContext {
  name: BenchSetName;
  set: BenchImageSet;
  /** `count` images (links to the photos) for the pipeline and naive measurements. */
  sourceDir: string;
  keys: string[];
  resultsDir: string;
}

type SetRounds = Record<SetPhase, PhaseResult[]>;

/** The measurements taken once per photo set; the others (enqueue, sweep, serve) are taken once. */
const PER_SET: readonly BenchPhase[] = ['ceiling', 'in-process', 'pipeline', 'naive', 'stages', 'plain-loop'];

/**
 * Runs the benchmark: loads the model once (its inference thread serves the ceiling and in-process
 * measurements); for each photo set of `--sets` (the camera set made, or reused, first) decodes the
 * photos and lays out `count` images in a temp folder; starts a private redis-server for the queue
 * measurements; then measures ceiling → in-process → pipeline → naive on every set in that order
 * `rounds` times (interleaved, so drift in the machine's load hits every measurement alike) and
 * reports the median round of each; the enqueue rate; with `sweep`, the table against batch size and
 * worker processes, and with `serve` the HTTP API under load, both on the first set. Everything it
 * started is stopped and removed, also on failure.
 */
export async function runBench(options: Readonly<BenchOptions>, progress: ProgressSink): Promise<BenchReport> {
  const loadStart = os.loadavg()[0];
  progress.phase(`loading ${options.model.model}`);
  const model = await loadModel(options.model, { onPull: (m) => progress.end(m) });
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'facefleet-bench-'));
  let redis: PrivateRedis | undefined;
  let gpu: GpuPhases | undefined;
  try {
    // GPU utilisation and memory per measurement, when nvidia-smi is there.
    gpu = await GpuPhases.start(options.model.providers.some(isDeviceProvider));
    const sampled = gpu;
    // Without a per-set measurement only the first set is needed (by the sweep and serve).
    const names = PER_SET.some((p) => options.phases.has(p)) ? options.sets : options.sets.slice(0, 1);
    const sets: SetContext[] = [];
    for (const name of names) sets.push(await loadSet(name, options, model, workDir, progress));
    const queued: BenchPhase[] = ['pipeline', 'naive', 'enqueue', 'fleet', 'stages'];
    if (queued.some((p) => options.phases.has(p)) || (options.sweep && options.sweepPhases.has('pipeline')) || options.serve) redis = await startRedis();
    const decode: DecodeOptions = { ...model.detector.defaults, ...(options.model.scoreThreshold !== undefined ? { scoreThreshold: options.model.scoreThreshold } : {}) };
    const cpu = new CpuPhases({ options, model, decode, workDir, redisUrl: redis?.url, progress });
    const ctx: BenchContext = { options, model, decode, workDir, redis, progress, cpu };
    progress.end(`${model.detector.id} ${model.detector.version} loaded in ${Math.round(model.loadMs)} ms; ${sets.map((s) => `${s.name} ${s.set.images.length} photos${s.set.skipped.length ? ` (${s.set.skipped.length} skipped, undecodable)` : ''}`).join(', ')}`);

    const rounds = new Map<SetContext, SetRounds>(sets.map((s) => [s, { ceiling: [], inProcess: [], pipeline: [], naive: [] }]));
    const enqueueRounds: EnqueueRate[] = [];
    const fleetRounds: FleetCost[] = [];
    const batch = options.model.batch;
    for (let r = 0; r < options.rounds; r++) {
      const tag = options.rounds > 1 ? ` (round ${r + 1}/${options.rounds})` : '';
      for (const s of sets) {
        const mine = rounds.get(s)!;
        if (options.phases.has('ceiling')) mine.ceiling.push(await sampled.during(s.name, 'ceiling', () => step(ctx, `${s.name}: ceiling${tag}`, () => ceilingAt(ctx, s, batch))));
        if (options.phases.has('in-process')) mine.inProcess.push(await sampled.during(s.name, 'in-process', () => step(ctx, `${s.name}: in-process${tag}`, () => inProcessAt(ctx, s, batch))));
        if (options.phases.has('pipeline')) mine.pipeline.push(await sampled.during(s.name, 'pipeline', () => step(ctx, `${s.name}: pipeline, ${options.workers} worker process(es)${tag}`, () => pipelineAt(ctx, s, batch, options.workers))));
        if (options.phases.has('naive')) mine.naive.push(await sampled.during(s.name, 'naive', () => step(ctx, `${s.name}: naive${tag}`, () => naiveRun(ctx, s))));
        if (cpu.wanted) await cpu.round(s, tag);
      }
      if (options.phases.has('enqueue')) {
        progress.phase(`enqueue, ${options.enqueueKeys.toLocaleString('en-US')} keys${tag}`);
        const e = await measureEnqueue({ redisUrl: redis!.url, keys: options.enqueueKeys, workDir, model: model.detector.id }, progress);
        progress.end(`${e.keysPerSecond.toLocaleString('en-US')} keys/s, bare addBulk ${e.addBulkPerSecond?.toLocaleString('en-US') ?? '-'} jobs/s: enqueue / addBulk ${ratio(e.keysPerSecond, e.addBulkPerSecond)?.toFixed(2) ?? '-'}; CPU µs/key ${e.cpuUsPerKey.producer ?? '-'}/${e.cpuUsPerKey.redis ?? '-'} against ${e.addBulkCpuUsPerJob.producer ?? '-'}/${e.addBulkCpuUsPerJob.redis ?? '-'} (producer/redis-server)`);
        enqueueRounds.push(e);
      }
      if (options.phases.has('fleet')) fleetRounds.push(await fleetAt(ctx, sets[0], tag));
    }
    const inference = options.phases.has('inference') ? await runInferencePhase(options, model, sets[0].set, progress) : null;
    const sweep = options.sweep ? await runSweep(ctx, sets[0]) : null;
    let serve: ServeLoadRow[] | null = null;
    if (options.serve) {
      progress.phase(`serve: POST /v1/detect, closed loop, batching on and off (${sets[0].name} set)`);
      serve = await measureServe(sets[0].set, { redisUrl: redis!.url, model: options.model, seconds: options.serveSeconds }, progress);
    }
    // The median round by enqueue / addBulk, measured side by side: keys/s alone moves with the machine's load.
    const vsAddBulk = (e: EnqueueRate) => ratio(e.keysPerSecond, e.addBulkPerSecond) ?? 0;
    const enqueue = enqueueRounds.length ? [...enqueueRounds].sort((a, b) => vsAddBulk(a) - vsAddBulk(b))[Math.floor((enqueueRounds.length - 1) / 2)] : null;
    const setReports = sets.map((s) => buildSetReport(ctx, s, rounds.get(s)!));
    // The median round by what an image costs Redis.
    const fleet = fleetRounds.length ? [...fleetRounds].sort((a, b) => (a.redisUsPerImage.total ?? 0) - (b.redisUsPerImage.total ?? 0))[Math.floor((fleetRounds.length - 1) / 2)] : null;
    await gpu.stop();
    const gridMeasuredLoad = inference?.rows.some((r) => r.contention !== null) ?? false;
    const report = buildReport(ctx, setReports, enqueue, enqueueRounds, sweep, serve, loadStart, gridMeasuredLoad);
    const { provider, fallbackReason } = model.session.info;
    if (fallbackReason) report.warnings.push(`--providers ${options.model.providers.join(',')} fell back to CPU: every figure is a CPU figure (${fallbackReason})`);
    return { ...report, fleet, inference, provider, gpu: gpu.report() };
  } finally {
    await gpu?.stop().catch(() => undefined);
    await model.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** Decodes one set's photos (making the camera photos first) and lays out its `count` images. */
async function loadSet(name: BenchSetName, options: Readonly<BenchOptions>, model: LoadedModel, workDir: string, progress: ProgressSink): Promise<SetContext> {
  let dir = options.imagesDir;
  if (name === 'camera') {
    progress.phase(`camera set: 12 MP JPEGs from ${options.cameraSourceDir}`);
    const camera = await ensureCameraSet(options.cameraSourceDir, undefined, (done, total) => progress.update(done, total, 'photos'));
    const mb = camera.photos.reduce((n, p) => n + p.bytes, 0) / camera.photos.length / 1e6;
    progress.end(`${camera.photos.length} photos, mean ${mb.toFixed(2)} MB per photo, ${camera.reused ? 'reused from' : 'written to'} ${camera.dir}`);
    dir = camera.dir;
  }
  const set = await loadBenchImages(dir, model.detector.input, options.limits, model.engine.tiling);
  const sourceDir = path.join(workDir, name, 'images');
  const keys = await materializeImages(set, options.count, sourceDir);
  return { name, set, sourceDir, keys, resultsDir: path.join(workDir, name, 'results') };
}

async function step<T extends PhaseResult>(ctx: BenchContext, label: string, run: () => Promise<T>): Promise<T> {
  ctx.progress.phase(label);
  const result = await run();
  ctx.progress.end(`${result.imagesPerSecond} images/s (${result.images} images in ${result.seconds.toFixed(2)} s${result.failed ? `, ${result.failed} failed` : ''})`);
  return result;
}

function ceilingAt(ctx: BenchContext, s: SetContext, batch: number): Promise<PhaseResult> {
  return measureCeiling(ctx.model.session, ctx.model.detector, s.set, { batch, seconds: ctx.options.seconds }, ctx.progress);
}

function inProcessAt(ctx: BenchContext, s: SetContext, batch: number): Promise<PhaseResult> {
  const { options } = ctx;
  return measureInProcess(ctx.model.detector, ctx.model.session, s.set, {
    batch,
    maxWaitMs: options.model.maxWaitMs,
    concurrency: effectiveConcurrency(options, batch),
    count: options.count,
    decode: ctx.decode,
    limits: options.limits,
    tiling: ctx.model.engine.tiling,
  }, ctx.progress);
}

function pipelineAt(ctx: BenchContext, s: SetContext, batch: number, workers: number): Promise<PipelineResult> {
  return measurePipeline({
    redisUrl: ctx.redis!.url,
    model: ctx.options.model,
    batch,
    workers,
    concurrency: effectiveConcurrency(ctx.options, batch),
    sourceDir: s.sourceDir,
    keys: s.keys,
    resultsDir: s.resultsDir,
    profileDir: ctx.options.profileDir,
  }, ctx.progress);
}

/** The fleet measurement on one set: what an image costs redis-server, enqueue and processing. */
async function fleetAt(ctx: BenchContext, s: SetContext, tag: string): Promise<FleetCost> {
  const { options } = ctx;
  ctx.progress.phase(`fleet: redis-server CPU per image, ${options.workers} worker process(es), ${options.shards} shard(s) (${s.name} set)${tag}`);
  const f = await measureFleet({
    redisUrl: ctx.redis!.url,
    model: options.model,
    batch: options.model.batch,
    workers: options.workers,
    concurrency: effectiveConcurrency(options, options.model.batch),
    shards: options.shards,
    sourceDir: s.sourceDir,
    keys: s.keys,
    resultsDir: s.resultsDir,
  }, ctx.progress);
  ctx.progress.end(`${f.redisUsPerImage.total ?? '-'} µs of redis-server CPU per image (enqueue ${f.redisUsPerImage.enqueue ?? '-'}, processing ${f.redisUsPerImage.processing ?? '-'}); ${f.imagesPerSecond} images/s`);
  return f;
}

function naiveRun(ctx: BenchContext, s: SetContext): Promise<PhaseResult> {
  return measureNaive({
    redisUrl: ctx.redis!.url,
    modelPath: ctx.model.modelPath,
    detector: ctx.model.detector,
    threads: ctx.options.model.threads,
    allowSpinning: ctx.options.model.ortAllowSpinning,
    decode: ctx.decode,
    limits: ctx.options.limits,
    sourceDir: s.sourceDir,
    keys: s.keys,
    resultsDir: s.resultsDir,
    seconds: ctx.options.seconds,
    tiling: ctx.model.engine.tiling,
  }, ctx.progress);
}

/** Images/s against batch size (ceiling, in-process, pipeline with each worker count) on one set, one round each. */
async function runSweep(ctx: BenchContext, s: SetContext): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  const batches = ctx.model.detector.dynamicBatch ? ctx.options.sweepBatches : [1];
  for (const b of batches) {
    const row: SweepRow = { batch: b, ceiling: null, inProcess: null, pipeline: {}, rssPeakMb: {}, contention: null };
    const contended = (p: PhaseResult) => {
      if (p.contention !== null) row.contention = Math.max(row.contention ?? 0, p.contention);
      return p;
    };
    if (ctx.options.sweepPhases.has('ceiling')) row.ceiling = contended(await step(ctx, `sweep: ceiling, batch ${b}`, () => ceilingAt(ctx, s, b))).imagesPerSecond;
    if (ctx.options.sweepPhases.has('in-process')) row.inProcess = contended(await step(ctx, `sweep: in-process, batch ${b}`, () => inProcessAt(ctx, s, b))).imagesPerSecond;
    for (const k of ctx.options.sweepPhases.has('pipeline') ? ctx.options.sweepWorkers : []) {
      const p = contended(await step(ctx, `sweep: pipeline, batch ${b}, ${k} worker process(es)`, () => pipelineAt(ctx, s, b, k)));
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

/** Everything measured on one set: the median round of each measurement, ratios, per-round figures, targets. */
function buildSetReport(ctx: BenchContext, s: SetContext, rounds: SetRounds): BenchSetReport {
  const { options } = ctx;
  const phases = {
    ceiling: medianOf(rounds.ceiling),
    inProcess: medianOf(rounds.inProcess),
    pipeline: medianOf(rounds.pipeline) as PipelineResult | null,
    naive: medianOf(rounds.naive),
  };
  const ips = (p: PhaseResult | null) => p?.imagesPerSecond ?? null;
  const ratios = {
    pipelineVsInProcess: ratio(ips(phases.pipeline), ips(phases.inProcess)),
    pipelineVsCeiling: ratio(ips(phases.pipeline), ips(phases.ceiling)),
    pipelineVsNaive: ratio(ips(phases.pipeline), ips(phases.naive)),
  };
  const rssAtMb = phases.pipeline?.rssAtMb ?? {};
  const rssGrowth = rssAtMb['1000'] && rssAtMb['10000'] ? ratio(rssAtMb['10000'], rssAtMb['1000']) : null;
  const roundsMeasured: Record<string, number[]> = {};
  const roundRatios: BenchSetReport['roundRatios'] = {};
  if (options.rounds > 1) {
    const pairs = [['pipelineVsInProcess', 'inProcess'], ['pipelineVsCeiling', 'ceiling'], ['pipelineVsNaive', 'naive']] as const;
    for (const [name, other] of pairs) {
      if (!rounds.pipeline.length || !rounds[other].length) continue;
      const perRound = rounds.pipeline.map((p, i) => ratio(p.imagesPerSecond, rounds[other][i]?.imagesPerSecond));
      roundRatios[name] = { perRound, median: median(perRound.filter((v): v is number => v !== null)) };
    }
    for (const [k, list] of Object.entries(rounds)) if (list.length) roundsMeasured[k] = list.map((p) => p.imagesPerSecond);
  }
  // With rounds, a target is judged on the median of the per-round ratios.
  const byRound = (name: string) => (roundRatios[name] ? ' (median of rounds)' : '');
  const targets = [
    check(`pipeline / in-process${byRound('pipelineVsInProcess')}`, 0.95, roundRatios.pipelineVsInProcess?.median ?? ratios.pipelineVsInProcess),
    check(`pipeline / naive${byRound('pipelineVsNaive')}`, 2, roundRatios.pipelineVsNaive?.median ?? ratios.pipelineVsNaive),
    check('RSS after 10,000 / after 1,000 images', 1, rssGrowth, 0.1),
  ];
  const each = <T>(f: (p: PhaseResult | null) => T) => ({ ceiling: f(phases.ceiling), inProcess: f(phases.inProcess), pipeline: f(phases.pipeline), naive: f(phases.naive) });
  const cpu = ctx.cpu.report(s.name, phases.inProcess, phases.pipeline, targets);
  return {
    name: s.name,
    dir: s.set.dir,
    photos: s.set.images.length,
    photoNames: s.set.images.map((i) => i.name),
    skipped: s.set.skipped,
    meanBytes: Math.round(meanBytes(s.set)),
    meanMegapixels: Math.round(meanMegapixels(s.set) * 100) / 100,
    meanViews: meanViews(s.set),
    ...each(ips),
    ratios,
    rssPeakMb: phases.pipeline?.rssPeakMb ?? null,
    rssAtMb,
    averageBatchSize: { inProcess: phases.inProcess?.averageBatchSize ?? null, pipeline: phases.pipeline?.averageBatchSize ?? null },
    cpuMsPerImage: each((p) => p?.cpuMsPerImage ?? null),
    contention: each((p) => p?.contention ?? null),
    stages: each((p) => p?.stages ?? null),
    phases,
    roundsMeasured,
    roundRatios,
    targets: cpu.targets,
    cpu: cpu.cpu,
  };
}

function check(what: string, target: number, measured: number | null, tolerance?: number): TargetCheck {
  return {
    what,
    target,
    comparison: tolerance === undefined ? 'atLeast' : 'within',
    ...(tolerance === undefined ? {} : { tolerance }),
    measured,
    met: measured === null ? null : tolerance === undefined ? measured >= target : Math.abs(measured - target) <= tolerance + 1e-9,
  };
}

/** The whole report: the sets, the enqueue rate, the sweep and serve, with the first set's figures at the top level. */
function buildReport(
  ctx: BenchContext,
  sets: BenchSetReport[],
  enqueue: EnqueueRate | null,
  enqueueRounds: EnqueueRate[],
  sweep: SweepRow[] | null,
  serve: ServeLoadRow[] | null,
  loadStart: number,
  otherLoadMeasured = false,
): BenchReport {
  const { options, model } = ctx;
  const top = sets[0];
  const warnings = [...model.warnings];
  const named = sets.length > 1;
  const contended: string[] = [];
  // Whether any phase measured other processes' CPU share directly (/proc/stat around it).
  let measuredOtherLoad = otherLoadMeasured;
  for (const set of sets) {
    const label = (k: string) => (named ? `${set.name} ${k}` : k);
    for (const [k, p] of Object.entries(set.phases)) {
      if (p && p.failed > 0) warnings.push(`${label(k)}: ${p.failed} images failed`);
      if (p && p.contention !== null && p.contention !== undefined) measuredOtherLoad = true;
      if (p && (p.contention ?? 0) > 0.1) contended.push(`${label(k)} ${Math.round((p.contention ?? 0) * 100)}%`);
    }
  }
  const loadEnd = os.loadavg()[0];
  if (contended.length) warnings.push(`other processes used part of the machine's CPU during: ${contended.join(', ')}; those figures are below this machine's capacity`);
  // The load average counts the bench's own threads (decodes, onnxruntime's pool) too: it stands in
  // for the other-load share only where no phase measured that share.
  if (!measuredOtherLoad && Math.max(loadStart, loadEnd) > os.cpus().length) warnings.push(`the load average (${loadStart.toFixed(1)} → ${loadEnd.toFixed(1)}) exceeded the ${os.cpus().length} CPUs: other work shared the machine, so compare ratios, not absolute figures`);
  const roundsMeasured = { ...top.roundsMeasured };
  if (options.rounds > 1 && enqueueRounds.length) roundsMeasured.enqueue = enqueueRounds.map((e) => e.keysPerSecond);
  // The top-level list keeps its order from before sets: the enqueue target third.
  const targets = [top.targets[0], top.targets[1], check('enqueue keys/s', 20_000, enqueue?.keysPerSecond ?? null), top.targets[2], ...top.targets.slice(3)];
  const input = model.detector.input;
  return {
    model: { id: model.detector.id, version: model.detector.version, path: model.modelPath, canvas: { width: input.width, height: input.height }, dynamicBatch: model.detector.dynamicBatch, maxTiles: model.engine.tiling?.maxTiles ?? 0, meanViews: top.meanViews },
    settings: {
      batch: options.model.batch,
      threads: options.model.threads,
      decodeThreads: options.model.decodeThreads,
      ortAllowSpinning: options.model.ortAllowSpinning,
      workers: options.workers,
      concurrency: effectiveConcurrency(options, options.model.batch),
      maxWaitMs: options.model.maxWaitMs,
      count: options.count,
      seconds: options.seconds,
      rounds: options.rounds,
      imagesDir: top.dir,
      photos: top.photoNames,
      skipped: top.skipped,
      enqueueKeys: options.enqueueKeys,
    },
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(os.totalmem() / 1024 / 1024),
      node: process.version,
      nice: os.getPriority(),
      loadAverage: { start: Math.round(loadStart * 100) / 100, end: Math.round(loadEnd * 100) / 100 },
      env: Object.fromEntries(['MALLOC_ARENA_MAX', 'UV_THREADPOOL_SIZE', 'NODE_OPTIONS'].map((k) => [k, process.env[k] ?? null])),
    },
    ceiling: top.ceiling,
    inProcess: top.inProcess,
    pipeline: top.pipeline,
    naive: top.naive,
    enqueuePerSecond: enqueue?.keysPerSecond ?? null,
    enqueueAddBulkPerSecond: enqueue?.addBulkPerSecond ?? null,
    ratios: top.ratios,
    rssPeakMb: top.rssPeakMb,
    rssAtMb: top.rssAtMb,
    averageBatchSize: top.averageBatchSize,
    cpuMsPerImage: top.cpuMsPerImage,
    contention: top.contention,
    stages: top.stages,
    cpu: top.cpu ?? null,
    phases: { ...top.phases, enqueue },
    roundsMeasured,
    roundRatios: top.roundRatios,
    targets,
    sweep,
    serve,
    sets,
    warnings,
  };
}
