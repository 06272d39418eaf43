import type { Quantiles } from './stats';
import type { ResourceBusy, StageCpu } from './cpu-limit';

/** What one measurement found. */
export interface PhaseResult {
  /** Images finished per second of wall time. */
  imagesPerSecond: number;
  /** Images finished in the measured window. */
  images: number;
  /** Wall time of the measured window, s. */
  seconds: number;
  /** p50/p95 per stage, ms (per image unless the stage name starts with `batch`). */
  stages: Record<string, Quantiles>;
  /** Mean images per `session.run`; `null` where the measurement has no batches. */
  averageBatchSize: number | null;
  /** Images that failed (always 0 with decodable photos; anything else is a finding). */
  failed: number;
  /**
   * CPU time per image of every process doing the work (this process's threads; or the workers and
   * redis-server), ms. On n cores, images/s cannot exceed n × 1000 / this. `null` where unreadable.
   */
  cpuMsPerImage: number | null;
  /**
   * Share (0–1) of the machine's CPU that other processes used during the measurement: above a few
   * percent, the figure is not this machine's capacity. `null` without procfs.
   */
  contention: number | null;
}

/** A pipeline measurement: the queue, the worker processes and their memory. */
export interface PipelineResult extends PhaseResult {
  /** `facefleet worker` processes. */
  workers: number;
  /** Highest resident size of any one worker process (its `VmHWM`), MiB. */
  rssPeakMb: number | null;
  /** Largest worker resident size (`VmRSS`) when the run had finished this many images, MiB. */
  rssAtMb: Record<string, number>;
  /** {@link PhaseResult.cpuMsPerImage} split between the worker processes and redis-server, ms. */
  cpuMsPerImageBy: { workers: number | null; redis: number | null };
  /** How busy each worker's inference thread, decode slots and main thread were (its busy-time metrics), averaged over the workers; `null` when unread. */
  busy: ResourceBusy | null;
}

/** CPU ms per image rounded to 0.01, `null` when unknown or no image finished. */
export function perImage(cpuMs: number | null, images: number): number | null {
  return cpuMs === null || images <= 0 ? null : Math.round((cpuMs / images) * 100) / 100;
}

/**
 * Images per second of `images` over `ms`, to 4 significant digits (MogFace on a CPU runs at tenths of
 * an image per second, so a fixed number of decimals would erase it).
 */
export function rate(images: number, ms: number): number {
  return ms > 0 ? Number((images / (ms / 1000)).toPrecision(4)) : 0;
}

/** A plain-loop measurement: one image after another in one process, with its CPU by stage. */
export interface PlainLoopResult extends PhaseResult {
  /** What ran, e.g. `TypeScript: sharp, onnxruntime 1 thread, batch 1`. */
  runtime: string;
  /** CPU ms per image by stage (the loop is serial, so each delta is that stage's alone). */
  stageCpuMs: StageCpu;
  /** Wall ms per image by stage. */
  stageWallMs: StageCpu;
  /** Wall ms per image of V8 garbage-collection pauses inside each stage (part of its CPU); absent where there is no V8. */
  stageGcMs?: StageCpu;
}
