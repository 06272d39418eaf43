import { ServeLoadRow, formatServeLoad } from './serve-load';
import type { EnqueueRate } from './enqueue-rate';
import type { FleetCost } from './fleet';
import { GpuReport, formatGpuReport } from './gpu-utilisation';
import { InferenceGridReport, formatInferenceGrid } from './inference-grid';
import type { PhaseResult, PipelineResult } from './phase-result';
import type { SkippedImage } from './bench-images';
import { CpuReport } from './cpu-report';
import { formatCpuReport } from './cpu-report-text';
import { fmt, table } from './text-table';
import { Quantiles, ratio } from './stats';

/** One row of the sweep: images/s at one batch size. */
export interface SweepRow {
  batch: number;
  ceiling: number | null;
  inProcess: number | null;
  /** Pipeline images/s by number of worker processes. */
  pipeline: Record<string, number | null>;
  /** Highest worker resident size by number of worker processes, MiB. */
  rssPeakMb: Record<string, number | null>;
  /** The largest share of the machine's CPU other processes used during any measurement of the row. */
  contention: number | null;
}

/** A performance target (docs/benchmarks.md) and whether this run met it. */
export interface TargetCheck {
  /** What is compared, e.g. `pipeline / in-process`. */
  what: string;
  /** The bound, e.g. 0.95. */
  target: number;
  /** `atLeast`: measured ≥ target; `atMost`: measured ≤ target; `within`: |measured − target| ≤ tolerance. */
  comparison: 'atLeast' | 'atMost' | 'within';
  /** Allowed distance from the target for `within`. */
  tolerance?: number;
  /** Measured value; `null` when a phase needed for it was not run. */
  measured: number | null;
  met: boolean | null;
  /** When missed and known: what holds the measurement back (a stage, idle cores, wasted CPU). */
  heldBackBy?: string;
}

/** The four per-photo measurements, by their report key. */
export type SetPhase = 'ceiling' | 'inProcess' | 'pipeline' | 'naive';

/**
 * Everything measured on one photo set (`samples`, `camera`): the same figures the report carries at
 * its top level for the first set, plus what the photos are.
 */
export interface BenchSetReport {
  /** `samples` or `camera`. */
  name: string;
  /** Folder the photos were read from. */
  dir: string;
  /** Decodable photos in the set (the measurements repeat them to reach `count`). */
  photos: number;
  /** Their file names. */
  photoNames: string[];
  skipped: SkippedImage[];
  /** Mean encoded size per photo, bytes. */
  meanBytes: number;
  /** Mean decoded size per photo, millions of pixels. */
  meanMegapixels: number;
  /** Mean canvases per photo: 1, or 1 + its tiles. */
  meanViews: number;
  ceiling: number | null;
  inProcess: number | null;
  pipeline: number | null;
  naive: number | null;
  ratios: BenchReport['ratios'];
  rssPeakMb: number | null;
  rssAtMb: Record<string, number>;
  averageBatchSize: { inProcess: number | null; pipeline: number | null };
  cpuMsPerImage: Record<SetPhase, number | null>;
  contention: Record<SetPhase, number | null>;
  stages: Record<SetPhase, Record<string, Quantiles> | null>;
  /** The full result of each measurement on this set (the median round). */
  phases: { ceiling: PhaseResult | null; inProcess: PhaseResult | null; pipeline: PipelineResult | null; naive: PhaseResult | null };
  roundsMeasured: Record<string, number[]>;
  roundRatios: BenchReport['roundRatios'];
  /**
   * The targets that depend on the photos: pipeline / in-process, pipeline / naive, RSS growth, then
   * (with `--phases stages,plain-loop`) the CPU targets of {@link CpuReport}.
   */
  targets: TargetCheck[];
  /** CPU per image by stage, the plain loops, the CPU limit and the gaps (with `--phases stages` or `plain-loop`). */
  cpu?: CpuReport | null;
}

/**
 * Everything `facefleet bench` measured, as `--json` prints it. The per-photo figures at the top level
 * (`ceiling` … `stages`, `phases`, `settings.photos`) are those of the first set, as before sets
 * existed; `sets` holds every set's.
 */
export interface BenchReport {
  model: { id: string; version: string; path: string; canvas: { width: number; height: number }; dynamicBatch: boolean; maxTiles?: number; meanViews?: number };
  settings: {
    batch: number;
    threads: number;
    /** libvips threads per image (`--decode-threads`). */
    decodeThreads?: number;
    /** Whether onnxruntime's pool threads spun (`--ort-allow-spinning`). */
    ortAllowSpinning?: boolean;
    workers: number;
    concurrency: number;
    maxWaitMs: number;
    count: number;
    seconds: number;
    rounds: number;
    imagesDir: string;
    photos: string[];
    skipped: SkippedImage[];
    enqueueKeys: number;
  };
  host: {
    cpus: number;
    cpuModel: string;
    memoryMb: number;
    node: string;
    /** Scheduling priority (nice value) the benchmark and its workers ran at. */
    nice: number;
    /** 1-minute load average when the benchmark started and ended. */
    loadAverage: { start: number; end: number };
    /** Allocator and thread-pool settings inherited by the workers. */
    env: Record<string, string | null>;
  };
  /** Images/s of the inference-only loop. */
  ceiling: number | null;
  /** Images/s of decode + infer over local files, no queue. */
  inProcess: number | null;
  /** Images/s through Redis, worker processes and file storage. */
  pipeline: number | null;
  /** Images/s of the one-job-at-a-time baseline. */
  naive: number | null;
  /** Keys/s enqueued from a manifest. */
  enqueuePerSecond: number | null;
  /** BullMQ's bare `addBulk` of the same jobs on the same Redis (the producer's ceiling), jobs/s. */
  enqueueAddBulkPerSecond: number | null;
  ratios: { pipelineVsInProcess: number | null; pipelineVsCeiling: number | null; pipelineVsNaive: number | null };
  /** Highest resident size of a pipeline worker, MiB. */
  rssPeakMb: number | null;
  /** Largest worker resident size after this many images of the pipeline run, MiB. */
  rssAtMb: Record<string, number>;
  averageBatchSize: { inProcess: number | null; pipeline: number | null };
  /** CPU time per image of the processes doing the work (workers and redis-server for the queue ones), ms. */
  cpuMsPerImage: Record<'ceiling' | 'inProcess' | 'pipeline' | 'naive', number | null>;
  /** Share of the machine's CPU other processes used during each measurement (0–1). */
  contention: Record<'ceiling' | 'inProcess' | 'pipeline' | 'naive', number | null>;
  /** p50/p95 per stage and measurement, ms. */
  stages: Record<'ceiling' | 'inProcess' | 'pipeline' | 'naive', Record<string, Quantiles> | null>;
  /** The first set's {@link BenchSetReport.cpu}. */
  cpu?: CpuReport | null;
  /** The full result of each measurement (the median round). */
  phases: { ceiling: PhaseResult | null; inProcess: PhaseResult | null; pipeline: PipelineResult | null; naive: PhaseResult | null; enqueue: EnqueueRate | null };
  /** Images/s (keys/s for enqueue) of every round, in order, when rounds > 1. */
  roundsMeasured: Record<string, number[]>;
  /**
   * The ratios within each round (measurements minutes apart share the machine's state), and their
   * median: steadier than the ratio of medians on a shared machine. Empty when rounds = 1.
   */
  roundRatios: Record<string, { perRound: Array<number | null>; median: number | null }>;
  targets: TargetCheck[];
  sweep: SweepRow[] | null;
  /** `facefleet serve` under closed-loop load, batching on and off (with `--serve`). */
  serve: ServeLoadRow[] | null;
  /** What an image costs redis-server, enqueue and processing (with `--phases fleet`; the median round). */
  fleet?: FleetCost | null;
  /** The providers the benchmark's session runs on (`cuda`, `cpu`, `cpu (fallback)`). */
  provider?: string;
  /** GPU utilisation and memory per measurement, from nvidia-smi (or why there are none). */
  gpu?: GpuReport | null;
  /** CPU per image and images/s across batch, intra-op threads and execution modes (with `--phases inference`). */
  inference?: InferenceGridReport | null;
  /**
   * Every photo set measured, in `--sets` order. Always written by `runBench`; a report without it
   * (written before sets existed) is read as one set made of the top-level figures.
   */
  sets?: BenchSetReport[];
  warnings: string[];
}

/**
 * The report as text: settings and host; then per photo set its photos, the phase table, ratios
 * against the targets, memory and the stage table; then enqueue, the sweep, serve and warnings.
 */
export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  const s = r.settings;
  const sets = r.sets ?? [legacySet(r)];
  // Canvases per photo move with the photos: per set when there are sets, on the model line otherwise.
  const views = r.sets ? '' : ` (${(r.model.meanViews ?? 1).toFixed(2)} canvases per photo)`;
  const tiles = r.model.maxTiles ? `, tiles ≤ ${r.model.maxTiles}${views}` : '';
  const canvas = `${r.model.canvas.width}×${r.model.canvas.height}${tiles}`;
  out.push(`facefleet bench: ${r.model.id} ${r.model.version} (${canvas}), batch ${s.batch}, threads ${s.threads || 'auto'}, ${s.workers} worker process(es), concurrency ${s.concurrency}, ${s.count} images per set`);
  out.push(`  host: ${r.host.cpus} CPUs (${r.host.cpuModel}), node ${r.host.node}${r.host.nice ? `, nice ${r.host.nice}` : ''}, load average ${r.host.loadAverage.start} → ${r.host.loadAverage.end}${s.rounds > 1 ? `; median of ${s.rounds} rounds` : ''}`);
  if (r.provider) out.push(`  execution provider: ${r.provider}`);
  for (const set of sets) {
    out.push('');
    out.push(...setSection(set, s.workers, r.sets !== undefined));
  }
  const gpuLines = formatGpuReport(r.gpu);
  if (gpuLines.length) out.push('', ...gpuLines);
  const e = r.phases.enqueue;
  const setTargets = new Set(sets.flatMap((set) => set.targets.map((t) => t.what)));
  const otherTargets = r.targets.filter((t) => !setTargets.has(t.what));
  if (e || otherTargets.length) out.push('');
  if (e) out.push(`enqueue: ${e.keysPerSecond.toLocaleString('en-US')} keys/s (${e.keys.toLocaleString('en-US')} keys in ${e.seconds.toFixed(2)} s; CPU µs/key: producer ${fmt(e.cpuUsPerKey.producer)}, redis-server ${fmt(e.cpuUsPerKey.redis)})`);
  if (e?.addBulkPerSecond) {
    out.push(
      `  BullMQ addBulk alone, same jobs: ${e.addBulkPerSecond.toLocaleString('en-US')} jobs/s (CPU µs/job: producer ${fmt(e.addBulkCpuUsPerJob.producer)}, redis-server ${fmt(e.addBulkCpuUsPerJob.redis)}); enqueue / addBulk ${fmt(ratio(e.keysPerSecond, e.addBulkPerSecond))}`,
    );
  }
  out.push(...otherTargets.map(targetLine));
  if (r.fleet) out.push('', ...fleetLines(r.fleet));
  if (r.inference) out.push('', ...formatInferenceGrid(r.inference));
  if (r.sweep) {
    out.push('');
    const workerCounts = Object.keys(r.sweep[0]?.pipeline ?? {});
    const sweepRows = [['batch', 'ceiling', 'in-process', ...workerCounts.map((k) => `pipeline ${k}w`), ...workerCounts.map((k) => `peak RSS ${k}w`), 'other load']];
    for (const row of r.sweep) {
      const others = row.contention == null ? '-' : `${Math.round(row.contention * 100)}%`;
      sweepRows.push([String(row.batch), fmt(row.ceiling), fmt(row.inProcess), ...workerCounts.map((k) => fmt(row.pipeline[k])), ...workerCounts.map((k) => (row.rssPeakMb[k] == null ? '-' : `${row.rssPeakMb[k]} MB`)), others]);
    }
    out.push('sweep (images/s):');
    out.push(...table(sweepRows));
    if (r.sets && r.sets.length > 1) out.push(`  (on the ${r.sets[0].name} set)`);
  }
  if (r.serve) out.push('', formatServeLoad(r.serve), ...(r.sets && r.sets.length > 1 ? [`  (on the ${r.sets[0].name} set)`] : []));
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}

/** One set's part of the text report. `named`: the report has sets, so the section says which. */
function setSection(set: BenchSetReport, workers: number, named: boolean): string[] {
  const out: string[] = [];
  const skipped = set.skipped.length ? `; skipped ${set.skipped.map((k) => `${k.name} (${k.code})`).join(', ')}` : '';
  if (named) {
    out.push(`set ${set.name}: ${set.photos} photos from ${set.dir}, mean ${fmt(set.meanBytes / 1e6)} MB and ${fmt(set.meanMegapixels)} MP per photo, ${set.meanViews.toFixed(2)} canvases per photo${skipped}`);
  } else {
    out.push(`  photos: ${set.photos} from ${set.dir}${skipped}`);
  }
  const rows: string[][] = [['measurement', 'images/s', 'images', 'seconds', 'avg batch', 'CPU ms/image', 'other load']];
  const phaseRow = (name: string, p: PhaseResult | null) => {
    const others = p?.contention == null ? '-' : `${Math.round(p.contention * 100)}%`;
    if (p) rows.push([name, fmt(p.imagesPerSecond), String(p.images), p.seconds.toFixed(2), p.averageBatchSize === null ? '-' : fmt(p.averageBatchSize), fmt(p.cpuMsPerImage), others]);
  };
  phaseRow('ceiling', set.phases.ceiling);
  phaseRow('in-process', set.phases.inProcess);
  phaseRow(`pipeline (${workers}w)`, set.phases.pipeline);
  phaseRow('naive', set.phases.naive);
  if (set.cpu?.plainLoop) phaseRow(`plain loop (${set.cpu.plainLoop.runtime})`, set.cpu.plainLoop);
  if (set.cpu?.plainLoopPython) phaseRow(`plain loop (${set.cpu.plainLoopPython.runtime})`, set.cpu.plainLoopPython);
  if (rows.length > 1) out.push(...table(rows));
  if (set.cpu?.plainLoopPythonSkipped) out.push(`plain loop (Python): not run: ${set.cpu.plainLoopPythonSkipped}`);
  const by = set.phases.pipeline?.cpuMsPerImageBy;
  if (by) out.push(`pipeline CPU ms/image: workers ${fmt(by.workers)}, redis-server ${fmt(by.redis)}`);
  const cpuRatios = set.cpu ? `, pipeline/plain loop ${fmt(set.cpu.ratios.pipelineVsPlainLoop)}, in-process/CPU limit ${fmt(set.cpu.ratios.inProcessVsCpuLimit)}, pipeline/CPU limit ${fmt(set.cpu.ratios.pipelineVsCpuLimit)}` : '';
  out.push(`ratios: pipeline/in-process ${fmt(set.ratios.pipelineVsInProcess)}, pipeline/ceiling ${fmt(set.ratios.pipelineVsCeiling)}, pipeline/naive ${fmt(set.ratios.pipelineVsNaive)}${cpuRatios}`);
  for (const [name, rr] of Object.entries(set.roundRatios)) out.push(`  ${name} per round: ${rr.perRound.map(fmt).join(', ')} (median ${fmt(rr.median)})`);
  out.push(...set.targets.map(targetLine));
  const rssAt = Object.entries(set.rssAtMb).map(([n, mb]) => `${Number(n).toLocaleString('en-US')} images ${mb} MB`);
  out.push(`worker peak RSS: ${set.rssPeakMb === null ? 'unknown' : `${set.rssPeakMb} MB`}${rssAt.length ? `; RSS after ${rssAt.join(', after ')}` : ''}`);
  const stages = stageTable(set.stages);
  if (stages.length > 1) out.push('', ...stages);
  if (set.cpu) out.push('', ...formatCpuReport(set.cpu, set.phases.inProcess, set.phases.pipeline));
  return out;
}

/** The fleet measurement as text: redis-server CPU per image, and the images/s one Redis core carries. */
export function fleetLines(f: FleetCost): string[] {
  const us = f.redisUsPerImage;
  return [
    `fleet: ${f.workers} worker process(es), ${f.shards} shard(s): ${fmt(f.imagesPerSecond)} images/s (${f.images} images in ${f.seconds.toFixed(2)} s${f.failed ? `, ${f.failed} failed` : ''})`,
    `  redis-server CPU µs/image: enqueue ${fmt(us.enqueue)}, processing ${fmt(us.processing)}, total ${fmt(us.total)}; one Redis core at 70 % carries ${f.imagesPerSecondPerCore === null ? '-' : f.imagesPerSecondPerCore.toLocaleString('en-US')} images/s`,
  ];
}

function targetLine(t: TargetCheck): string {
  const measured = t.measured ?? 0;
  const miss = t.comparison === 'within' ? Math.abs(measured - t.target) - (t.tolerance ?? 0) : t.comparison === 'atMost' ? measured - t.target : t.target - measured;
  const held = t.heldBackBy ? `, held back by ${t.heldBackBy}` : '';
  const verdict = t.met === null ? 'not measured' : t.met ? 'met' : `missed by ${fmt(miss)} (${((miss / t.target) * 100).toFixed(1)}%)${held}`;
  const bound = t.comparison === 'within' ? `${t.target} ± ${t.tolerance}` : t.comparison === 'atMost' ? `≤ ${t.target}` : `≥ ${t.target}`;
  return `  target ${t.what} ${bound}: ${t.measured === null ? '-' : fmt(t.measured)} (${verdict})`;
}

/** A report without `sets` read as its one set: the top-level figures, every target with them. */
function legacySet(r: BenchReport): BenchSetReport {
  return {
    name: 'samples',
    dir: r.settings.imagesDir,
    photos: r.settings.photos.length,
    photoNames: r.settings.photos,
    skipped: r.settings.skipped,
    meanBytes: Number.NaN,
    meanMegapixels: Number.NaN,
    meanViews: r.model.meanViews ?? 1,
    ceiling: r.ceiling,
    inProcess: r.inProcess,
    pipeline: r.pipeline,
    naive: r.naive,
    ratios: r.ratios,
    rssPeakMb: r.rssPeakMb,
    rssAtMb: r.rssAtMb,
    averageBatchSize: r.averageBatchSize,
    cpuMsPerImage: r.cpuMsPerImage,
    contention: r.contention,
    stages: r.stages,
    phases: { ceiling: r.phases.ceiling, inProcess: r.phases.inProcess, pipeline: r.phases.pipeline, naive: r.phases.naive },
    roundsMeasured: r.roundsMeasured,
    roundRatios: r.roundRatios,
    targets: r.targets,
  };
}

function stageTable(stages: BenchSetReport['stages']): string[] {
  const columns = (['ceiling', 'inProcess', 'pipeline', 'naive'] as const).filter((c) => stages[c]);
  const names: string[] = [];
  for (const c of columns) for (const n of Object.keys(stages[c] ?? {})) if (!names.includes(n)) names.push(n);
  const rows = [['stage p50/p95 ms', ...columns]];
  for (const n of names) rows.push([n, ...columns.map((c) => {
    const q = stages[c]?.[n];
    return q ? `${fmt(q.p50)} / ${fmt(q.p95)}` : '-';
  })]);
  return table(rows);
}
