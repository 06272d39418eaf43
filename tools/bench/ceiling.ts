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
 * input, transferred to the thread and back). One warm-up run is not counted. With tiling, an image
 * costs the set's mean number of canvases, so canvases run are counted as images by that mean.
 */
export async function measureCeiling(session: BatchSession, detector: Detector, set: BenchImageSet, options: CeilingOptions, progress: ProgressSink): Promise<PhaseResult> {
  const batch = detector.dynamicBatch ? options.batch : 1;
  const { input } = detector;
  const template = packTensor(Array.from({ length: batch }, (_, i) => imageAt(set, i).pixels), input);
  const dims = input.layout === 'NHWC' ? [batch, input.height, input.width, 3] : [batch, 3, input.height, input.width];
  // Each lane owns one copy of the packed batch: the thread hands it back with the result, and the
  // lane sends it again, so the loop copies nothing on the main thread (a 32 × 640² batch is 157 MB).
  const runOnce = async (data: Float32Array): Promise<{ runMs: number; data: Float32Array }> => {
    const res = await session.run({ [input.name]: { data, dims } });
    return { runMs: res.runMs, data: (res.inputs?.[input.name]?.data as Float32Array | undefined) ?? template.slice() };
  };
  await runOnce(template.slice());

  const stages = new StageSamples();
  const cpu = new CpuMeter(async () => selfCpuMs());
  const others = new ContentionMeter(async () => selfCpuMs());
  await cpu.begin();
  await others.begin();
  const budgetMs = options.seconds * 1000;
  const t0 = performance.now();
  // Canvases run; turned into images at the end.
  let images = 0;
  let last = t0;
  const lane = async () => {
    let data: Float32Array = template.slice();
    while (performance.now() - t0 < budgetMs) {
      const started = performance.now();
      const res = await runOnce(data);
      data = res.data;
      last = performance.now();
      images += batch;
      stages.add('batchRun', res.runMs);
      stages.add('batchRoundTrip', last - started);
      progress.update(Math.min(Math.round(last - t0), budgetMs), budgetMs, 'ms');
    }
  };
  await Promise.all([lane(), lane()]);
  const cpuMs = await cpu.elapsed();
  const contention = await others.share();
  images = Math.round(images / meanViews(set));
  return { imagesPerSecond: rate(images, last - t0), images, seconds: (last - t0) / 1000, stages: stages.summary(), averageBatchSize: batch, failed: 0, cpuMsPerImage: perImage(cpuMs, images), contention };
}
