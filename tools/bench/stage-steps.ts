import { PerformanceObserver } from 'node:perf_hooks';
import sharp from 'sharp';
import type { Detector, Face, InputContract } from '../../src/detectors/detector';
import type { ImageProbe, ImageLimits } from '../../src/imaging/probe-image';
import type { PreparedImage } from '../../src/imaging/prepared-image';
import { letterboxImage } from '../../src/imaging/letterbox';
import { tileImage } from '../../src/imaging/tile-image';
import { planTiles, TilingOptions } from '../../src/imaging/tile-plan';
import { DetectionResult, RESULT_SCHEMA_ID } from '../../src/queue/result';
import { CPU_STAGES, CpuStage, StageCpu } from './cpu-limit';
import { selfCpuMs } from './cpu-time';

/**
 * The decode of `prepareImage` after its probe, on its own: the same sharp options (first frame,
 * shrink-on-load, the pixel limit), the same tile plan, the worker's `letterboxImage` or `tileImage`.
 * Only the decode timeout's timer is left out, so the stage profile times the decode alone; the probe
 * is a stage of its own.
 */
export async function decodeViews(body: Buffer, probe: ImageProbe, contract: InputContract, limits: ImageLimits, tiling?: TilingOptions): Promise<PreparedImage> {
  const image = sharp(body, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1, sequentialRead: true });
  const plan = tiling && contract.width === contract.height ? planTiles(probe.width, probe.height, contract.width, tiling) : undefined;
  if (plan && plan.tiles.length > 0) {
    const { whole, tiles } = await tileImage(image, probe.width, probe.height, plan, contract);
    return { ...whole, format: probe.format, tiles };
  }
  const { pixels, letterbox } = await letterboxImage(image, contract, { upright: probe });
  return { pixels, letterbox, format: probe.format };
}

/** The result document a worker writes for one image (timings left at 0: not part of the cost). */
export function resultFor(key: string, source: { url: string; etag: string; size: number }, detector: Pick<Detector, 'id' | 'version'>, prepared: Pick<PreparedImage, 'letterbox' | 'format'>, faces: Face[], batchSize: number, worker: string): DetectionResult {
  return {
    schema: RESULT_SCHEMA_ID,
    key,
    source,
    model: { id: detector.id, version: detector.version },
    image: { width: prepared.letterbox.width, height: prepared.letterbox.height, format: prepared.format },
    faces,
    timings: { downloadMs: 0, decodeMs: 0, inferenceMs: 0, postprocessMs: 0, batchSize },
    runId: 'stage-profile',
    worker,
    createdAt: new Date().toISOString(),
  };
}

/**
 * CPU and wall time by stage of work done one step at a time: {@link StageClock.time} reads
 * `process.cpuUsage()` (every thread of the process: the libuv pool, the inference thread,
 * onnxruntime's threads) and the clock before and after one step, so with nothing else running in the
 * process the deltas are that step's cost. Work a step leaves running on another thread when it
 * returns (V8's concurrent marking and sweeping) is counted with the step during which it runs.
 *
 * V8's garbage collector pauses the main thread wherever an allocation finds the heap (or the
 * external memory of buffers) over its limit, so its cost lands in whichever step allocates then: the
 * clock also records the pauses that fell inside each stage (`performance` `gc` entries, wall ms), to
 * tell a stage's own cost from collection of what earlier steps left. Call {@link StageClock.stop}
 * when done.
 */
export class StageClock {
  private readonly cpu = new Map<CpuStage, number>();
  private readonly wall = new Map<CpuStage, number>();
  private readonly steps: Array<{ stage: CpuStage; t0: number; t1: number }> = [];
  private readonly pauses: Array<{ start: number; ms: number }> = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.pauses.push({ start: e.startTime, ms: e.duration });
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Runs `step`, adding its CPU and wall time to `stage`. */
  async time<T>(stage: CpuStage, step: () => T | Promise<T>): Promise<T> {
    const c0 = selfCpuMs();
    const t0 = performance.now();
    try {
      return await step();
    } finally {
      const t1 = performance.now();
      this.cpu.set(stage, (this.cpu.get(stage) ?? 0) + selfCpuMs() - c0);
      this.wall.set(stage, (this.wall.get(stage) ?? 0) + t1 - t0);
      this.steps.push({ stage, t0, t1 });
    }
  }

  /** Stops recording garbage-collection pauses, keeping those recorded and not yet delivered. */
  stop(): void {
    for (const e of this.observer.takeRecords()) this.pauses.push({ start: e.startTime, ms: e.duration });
    this.observer.disconnect();
  }

  /** Wall ms per image of garbage-collection pauses that began inside each stage, over `images`. */
  gcPerImage(images: number): StageCpu {
    const totals = new Map<CpuStage, number>();
    const steps = [...this.steps].sort((a, b) => a.t0 - b.t0);
    for (const p of this.pauses) {
      // Steps never overlap: the last one starting at or before the pause holds it if it had not ended.
      let lo = 0;
      let hi = steps.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (steps[mid].t0 <= p.start) {
          at = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (at >= 0 && p.start <= steps[at].t1) totals.set(steps[at].stage, (totals.get(steps[at].stage) ?? 0) + p.ms);
    }
    return perImageOf(totals, images);
  }

  /** Adds a cost measured elsewhere (the queue stage) to `stage`, ms in all. */
  add(stage: CpuStage, cpuMs: number, wallMs: number): void {
    this.cpu.set(stage, (this.cpu.get(stage) ?? 0) + cpuMs);
    this.wall.set(stage, (this.wall.get(stage) ?? 0) + wallMs);
  }

  /** CPU ms per image of every stage timed, over `images`, to 0.001 ms. */
  cpuPerImage(images: number): StageCpu {
    return perImageOf(this.cpu, images);
  }

  /** Wall ms per image of every stage timed, over `images`, to 0.001 ms. */
  wallPerImage(images: number): StageCpu {
    return perImageOf(this.wall, images);
  }

  /** CPU ms of every stage together. */
  get totalCpuMs(): number {
    return [...this.cpu.values()].reduce((a, b) => a + b, 0);
  }
}

function perImageOf(totals: Map<CpuStage, number>, images: number): StageCpu {
  const out: StageCpu = {};
  if (images <= 0) return out;
  for (const s of CPU_STAGES) {
    const ms = totals.get(s);
    if (ms !== undefined) out[s] = Math.round((ms / images) * 1000) / 1000;
  }
  return out;
}
