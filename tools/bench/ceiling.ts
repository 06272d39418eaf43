import type { Detector } from '../../src/detectors/detector';
import type { BatchSession } from '../../src/engine/detection-engine';
import { packTensor } from '../../src/imaging/pack-tensor';
import { BenchImageSet, imageAt, meanViews } from './bench-images';
import { PhaseResult, perImage, rate } from './phase-result';
import type { ProgressSink } from './progress';
import { ContentionMeter, CpuMeter, selfCpuMs } from './cpu-time';
import { StageSamples } from './stats';

/** Settings of {@link measureCeiling}. */
export interface CeilingOptions {
  /** Images per `session.run` (1 when the graph's batch axis is fixed). */
  batch: number;
  /** How long the loop runs, s. */
  seconds: number;
}

/**
 * The physical limit of this machine for this model: `session.run` in a loop on tensors packed once
 * ahead of time, through the same inference thread the worker uses. Two runs are kept in flight so
 * the thread never waits for the main thread to hand over the next input (each lane owns a copy of the
 * input, transferred to the thread and back). The warm-up runs are not counted ({@link runLoop}). With tiling, an image
 * costs the set's mean number of canvases, so canvases run are counted as images by that mean.
 */
export async function measureCeiling(session: BatchSession, detector: Detector, set: BenchImageSet, options: CeilingOptions, progress: ProgressSink): Promise<PhaseResult> {
  const batch = detector.dynamicBatch ? options.batch : 1;
  const stages = new StageSamples();
  const loop = await runLoop(session, detector, set, batch, options.seconds, progress, (runMs, roundTripMs) => {
    stages.add('batchRun', runMs);
    stages.add('batchRoundTrip', roundTripMs);
  });
  const images = Math.round(loop.canvases / meanViews(set));
  return { imagesPerSecond: rate(images, loop.wallMs), images, seconds: loop.wallMs / 1000, stages: stages.summary(), averageBatchSize: batch, failed: 0, cpuMsPerImage: perImage(loop.cpuMs, images), contention: loop.contention };
}

/** What {@link runLoop} measured. */
export interface RunLoopResult {
  /** Canvases run (batches × batch). */
  canvases: number;
  /** From the start of the loop to the end of the last run, ms. */
  wallMs: number;
  /** This process's CPU over the loop (every thread), ms; `null` when unreadable. */
  cpuMs: number | null;
  /** Share of the machine other processes used meanwhile. */
  contention: number | null;
}

/**
 * `session.run` in a loop for `seconds` on `batch` canvases of the set packed once, two runs in flight.
 * Each lane owns one copy of the packed batch: the thread hands it back with the result and the lane
 * sends it again, so the loop copies nothing on the main thread (a 32 × 640² batch is 157 MB). Both
 * copies run once first, uncounted. `onRun` gets each run's time in the session and its round trip, ms.
 */
export async function runLoop(session: BatchSession, detector: Detector, set: BenchImageSet, batch: number, seconds: number, progress: ProgressSink, onRun: (runMs: number, roundTripMs: number) => void): Promise<RunLoopResult> {
  const { input } = detector;
  const template = packTensor(Array.from({ length: batch }, (_, i) => imageAt(set, i).pixels), input);
  const dims = input.layout === 'NHWC' ? [batch, input.height, input.width, 3] : [batch, 3, input.height, input.width];
  const runOnce = async (data: Float32Array): Promise<{ runMs: number; data: Float32Array }> => {
    const res = await session.run({ [input.name]: { data, dims } });
    return { runMs: res.runMs, data: (res.inputs?.[input.name]?.data as Float32Array | undefined) ?? template.slice() };
  };
  const buffers = await Promise.all([template.slice(), template.slice()].map(async (b) => (await runOnce(b)).data));

  const cpu = new CpuMeter(async () => selfCpuMs());
  const others = new ContentionMeter(async () => selfCpuMs());
  await cpu.begin();
  await others.begin();
  const budgetMs = seconds * 1000;
  const t0 = performance.now();
  let canvases = 0;
  let last = t0;
  const lane = async (buffer: Float32Array) => {
    let data = buffer;
    while (performance.now() - t0 < budgetMs) {
      const started = performance.now();
      const res = await runOnce(data);
      data = res.data;
      last = performance.now();
      canvases += batch;
      onRun(res.runMs, last - started);
      progress.update(Math.min(Math.round(last - t0), budgetMs), budgetMs, 'ms');
    }
  };
  await Promise.all(buffers.map(lane));
  return { canvases, wallMs: last - t0, cpuMs: await cpu.elapsed(), contention: await others.share() };
}
