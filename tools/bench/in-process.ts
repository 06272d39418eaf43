import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { DecodeOptions, Detector } from '../../src/detectors/detector';
import { detectImage } from '../../src/engine/detect-image';
import { BatchSession, DetectionEngine } from '../../src/engine/detection-engine';
import { FacefleetError } from '../../src/errors';
import type { ImageLimits } from '../../src/imaging/probe-image';
import type { TilingOptions } from '../../src/imaging/tile-plan';
import { BenchImageSet, imageAt } from './bench-images';
import { ContentionMeter, CpuMeter, selfCpuMs } from './cpu-time';
import type { ResourceBusy } from './cpu-limit';
import { PhaseResult, perImage, rate } from './phase-result';
import type { ProgressSink } from './progress';
import { StageSamples, mean } from './stats';
import { usableCores } from '../../src/host/cpu-quota';

/** Settings of {@link measureInProcess}. */
export interface InProcessOptions {
  /** Images per batch. */
  batch: number;
  /** ms a partial batch waits. */
  maxWaitMs: number;
  /** Images in hand at once (the worker's concurrency). */
  concurrency: number;
  /** Images to detect. */
  count: number;
  decode: DecodeOptions;
  limits: ImageLimits;
  /** The worker's tiling of large photos. */
  tiling?: TilingOptions;
}

/** An in-process measurement, with how busy each of its resources was. */
export interface InProcessResult extends PhaseResult {
  /** Shares of the measured wall time the inference thread, the decode slots and the main thread were busy. */
  busy: ResourceBusy;
}

/**
 * The limit for a worker that must decode its own images: read each file, decode and letterbox it
 * (sharp on the libuv pool), batch it through a {@link DetectionEngine} on the inference thread and
 * decode the boxes — the worker's path without queue or storage, `concurrency` images in hand at once.
 * One batch of warm-up is not counted. Also records how busy the inference thread (time inside
 * `session.run`), the engine's decode slots and the main thread (event loop utilisation) were.
 */
export async function measureInProcess(detector: Detector, session: BatchSession, set: BenchImageSet, options: InProcessOptions, progress: ProgressSink): Promise<InProcessResult> {
  const stages = new StageSamples();
  const batchSizes: number[] = [];
  let measuring = false;
  let runMs = 0;
  let decodeMs = 0;
  const timedSession: BatchSession = {
    run: async (feeds) => {
      const res = await session.run(feeds);
      if (measuring) runMs += res.runMs;
      return res;
    },
  };
  // The engine's default: one decode slot per core.
  const decodeSlots = usableCores();
  const engine = new DetectionEngine(detector, timedSession, {
    decodeSlots,
    maxBatch: options.batch,
    maxWaitMs: options.maxWaitMs,
    decode: options.decode,
    tiling: options.tiling,
    onBatch: (b) => {
      if (!measuring) return;
      batchSizes.push(b.size);
      stages.add('batchPack', b.preprocessMs);
      stages.add('batchRun', b.inferenceMs);
    },
  });
  try {
    await Promise.all(Array.from({ length: options.batch }, (_, i) => fs.readFile(imageAt(set, i).file).then((b) => detectImage(engine, b, options.limits))));
    measuring = true;
    let next = 0;
    let done = 0;
    let failed = 0;
    const cpu = new CpuMeter(async () => selfCpuMs());
    const others = new ContentionMeter(async () => selfCpuMs());
    await cpu.begin();
    await others.begin();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    const lane = async () => {
      while (next < options.count) {
        const img = imageAt(set, next++);
        const tRead = performance.now();
        try {
          const body = await fs.readFile(img.file);
          stages.add('read', performance.now() - tRead);
          const det = await detectImage(engine, body, options.limits);
          stages.add('decode', det.decodeMs);
          decodeMs += det.decodeMs;
          stages.add('inferenceWithWait', det.inferenceMs);
          stages.add('postprocess', det.postprocessMs);
        } catch (err) {
          if (!(err instanceof FacefleetError)) throw err;
          failed++;
        }
        progress.update(++done, options.count);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, lane));
    const ms = performance.now() - t0;
    const elu = performance.eventLoopUtilization(elu0);
    const cpuMs = await cpu.elapsed();
    const contention = await others.share();
    const share = (v: number) => (ms > 0 ? Math.round((v / ms) * 1000) / 1000 : null);
    const busy: ResourceBusy = { inferenceThread: share(runMs), decodeSlots: share(decodeMs / decodeSlots), mainThread: Math.round(elu.utilization * 1000) / 1000 };
    return { imagesPerSecond: rate(done - failed, ms), images: done - failed, seconds: ms / 1000, stages: stages.summary(), averageBatchSize: mean(batchSizes), failed, cpuMsPerImage: perImage(cpuMs, done - failed), contention, busy };
  } finally {
    await engine.close();
  }
}
