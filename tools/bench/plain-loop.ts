import fs from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DecodeOptions, Detector, Face, RawTensor } from '../../src/detectors/detector';
import { mergeTileFaces } from '../../src/engine/merge-tiles';
import { packTensor } from '../../src/imaging/pack-tensor';
import { probeImage, type ImageLimits } from '../../src/imaging/probe-image';
import type { TilingOptions } from '../../src/imaging/tile-plan';
import { baseSessionOptions } from '../../src/inference/session-options';
import { BenchImageSet, imageAt } from './bench-images';
import { ContentionMeter, CpuMeter, selfCpuMs } from './cpu-time';
import { PlainLoopResult, perImage, rate } from './phase-result';
import type { ProgressSink } from './progress';
import { StageClock, decodeViews, resultFor } from './stage-steps';

/** What the TypeScript plain loop is, as the report names it. */
export const PLAIN_LOOP_TS = 'TypeScript: sharp, onnxruntime 1 thread, batch 1';

/** Settings of {@link measurePlainLoop}. */
export interface PlainLoopOptions {
  modelPath: string;
  detector: Detector;
  decode: DecodeOptions;
  limits: ImageLimits;
  /** The worker's tiling of large photos: the loop runs the same canvases, one at a time. */
  tiling?: TilingOptions;
  /** Images to run (the set's photos repeated, as every measurement takes them). */
  count: number;
  /** An empty folder the results are written into. */
  resultsDir: string;
}

/**
 * The plain-loop baseline: what one would write without a queue, batching or threads — in one process,
 * one image after another: read the file (`fs.readFile`), probe the header and decode it with sharp
 * onto the same canvas and tiles as the worker (`src/imaging`, shrink-on-load included), pack each
 * canvas, `session.run` on the main thread with one intra-op thread and a batch of 1, decode its
 * outputs and merge the tiles, write one JSON result per image (`fs.writeFile`). The loop is serial,
 * so the CPU read around each stage (`process.cpuUsage()`) is that stage's alone. One image of
 * warm-up is not counted.
 */
export async function measurePlainLoop(set: BenchImageSet, options: PlainLoopOptions, progress: ProgressSink): Promise<PlainLoopResult> {
  const { detector } = options;
  const { input } = detector;
  const dims = input.layout === 'NHWC' ? [1, input.height, input.width, 3] : [1, 3, input.height, input.width];
  const session = await ort.InferenceSession.create(options.modelPath, { ...baseSessionOptions({ intraOpThreads: 1, interOpThreads: 1, allowSpinning: false }), executionProviders: ['cpu'] });
  await fs.mkdir(options.resultsDir, { recursive: true });
  try {
    const one = async (clock: StageClock, i: number, key: string) => {
      const img = imageAt(set, i);
      const body = await clock.time('read', () => fs.readFile(img.file));
      const probe = await clock.time('probe', () => probeImage(body, options.limits));
      const prepared = await clock.time('decode', () => decodeViews(body, probe, input, options.limits, options.tiling));
      const found: Face[][] = [];
      for (const view of [prepared, ...(prepared.tiles ?? [])]) {
        const data = await clock.time('pack', () => packTensor([view.pixels], input));
        const res = await clock.time('inference', () => session.run({ [input.name]: new ort.Tensor('float32', data, dims) }));
        found.push(await clock.time('outputs', () => {
          const outputs: Record<string, RawTensor> = {};
          for (const [name, t] of Object.entries(res)) outputs[name] = { data: t.data as Float32Array, dims: t.dims };
          return detector.decode(outputs, 0, view.letterbox, options.decode);
        }));
      }
      const tiles = prepared.tiles ?? [];
      const faces = await clock.time('outputs', () => mergeTileFaces(found[0], tiles.map((tile, k) => ({ tile, faces: found[k + 1] })), options.decode.iouThreshold, options.decode.maxDetections));
      await clock.time('write', () => {
        const result = resultFor(key, { url: `file://${img.file}`, etag: '', size: body.length }, detector, prepared, faces, 1, 'bench-plain-loop');
        return fs.writeFile(path.join(options.resultsDir, `${key}.json`), JSON.stringify(result));
      });
    };
    const warm = new StageClock();
    await one(warm, 0, 'warm');
    warm.stop();
    const clock = new StageClock();
    const cpu = new CpuMeter(async () => selfCpuMs());
    const others = new ContentionMeter(async () => selfCpuMs());
    await cpu.begin();
    await others.begin();
    const t0 = performance.now();
    for (let i = 0; i < options.count; i++) {
      await one(clock, i, `img-${String(i).padStart(7, '0')}`);
      progress.update(i + 1, options.count);
    }
    const ms = performance.now() - t0;
    clock.stop();
    const cpuMs = await cpu.elapsed();
    const contention = await others.share();
    return {
      runtime: PLAIN_LOOP_TS,
      imagesPerSecond: rate(options.count, ms),
      images: options.count,
      seconds: ms / 1000,
      // Means per stage are in stageCpuMs and stageWallMs; the loop keeps no per-image samples.
      stages: {},
      averageBatchSize: 1,
      failed: 0,
      cpuMsPerImage: perImage(cpuMs, options.count),
      contention,
      stageCpuMs: clock.cpuPerImage(options.count),
      stageWallMs: clock.wallPerImage(options.count),
      stageGcMs: clock.gcPerImage(options.count),
    };
  } finally {
    await session.release().catch(() => undefined);
  }
}
