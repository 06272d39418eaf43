import type { DecodeOptions, Detector, Face } from '../../src/detectors/detector';
import type { BatchSession } from '../../src/engine/detection-engine';
import { mergeTileFaces } from '../../src/engine/merge-tiles';
import { packTensor } from '../../src/imaging/pack-tensor';
import type { PreparedImage } from '../../src/imaging/prepared-image';
import { probeImage, type ImageLimits } from '../../src/imaging/probe-image';
import type { TilingOptions } from '../../src/imaging/tile-plan';
import { FileStore } from '../../src/storage/file-store';
import { BenchImageSet, imageAt } from './bench-images';
import { StageCpu, stageSum } from './cpu-limit';
import { ContentionMeter, selfCpuMs } from './cpu-time';
import type { ProgressSink } from './progress';
import { QueueCost, QueueCostOptions, measureQueueCost } from './queue-cost';
import { StageClock, decodeViews, resultFor } from './stage-steps';

/** Settings of {@link measureStageProfile}. */
export interface StageProfileOptions {
  /** Canvases per `session.run`, as the worker batches them (1 when the graph's batch axis is fixed). */
  batch: number;
  /** Images profiled (the set's photos repeated, as every measurement takes them). */
  count: number;
  decode: DecodeOptions;
  limits: ImageLimits & { maxBytes: number };
  tiling?: TilingOptions;
  /** An empty folder the results are written into (a `FileStore`, as the worker writes them). */
  resultsDir: string;
  /** The queue stage's settings; without them the profile has no queue stage. */
  queue?: Omit<QueueCostOptions, 'jobs'> & { jobs?: number };
}

/** What each stage of the work on one image costs when it runs alone. */
export interface StageProfile {
  /** Images profiled. */
  images: number;
  /** Canvases per `session.run`. */
  batch: number;
  /** Canvases run per image (1, or 1 + tiles). */
  viewsPerImage: number;
  /** CPU ms per image by stage (the queue's from its own measurement). */
  cpuMs: StageCpu;
  /** Wall ms per image by stage. */
  wallMs: StageCpu;
  /** Wall ms per image of V8 garbage-collection pauses inside each stage (part of its CPU). */
  gcMs: StageCpu;
  /** Sum of {@link cpuMs} over every stage, ms. */
  sumMs: number;
  /** The queue stage as measured, or `null` without Redis. */
  queue: QueueCost | null;
  /** Wall time of the image stages, s. */
  seconds: number;
  /** Share of the machine's CPU other processes used meanwhile (0–1). */
  contention: number | null;
}

/** Jobs of the queue stage at least, whatever `count` is: a job costs well under a millisecond. */
export const QUEUE_JOBS_MIN = 1000;

/**
 * The stage profile: each stage of the worker's work on an image run alone, one after another, with
 * `process.cpuUsage()` read around each (so every thread's work is counted: the libuv pool's decodes
 * and writes, the inference thread, onnxruntime's pool). Per chunk of `batch` images: read each
 * (`FileStore.get`, as the worker reads), probe its header, decode and resize it onto the canvas and
 * its tiles (sharp, via `src/imaging`); pack the canvases `batch` at a time into a reused input buffer,
 * run them on the worker's inference thread, decode each canvas's outputs and merge each image's
 * tiles; then write each result as the worker does (JSON, then the file store's exclusive atomic
 * write: temporary file, fsync, hard link, folder fsync). One chunk of warm-up is not counted. With
 * `queue`, the queue stage follows (see {@link measureQueueCost}).
 */
export async function measureStageProfile(detector: Detector, session: BatchSession, set: BenchImageSet, options: StageProfileOptions, progress: ProgressSink): Promise<StageProfile> {
  const { input } = detector;
  const perRun = detector.dynamicBatch ? options.batch : 1;
  const sources = new FileStore(set.dir);
  const results = new FileStore(options.resultsDir);
  const floats = perRun * input.width * input.height * 3;
  const buffers: Float32Array[] = [];
  const dims = (n: number) => (input.layout === 'NHWC' ? [n, input.height, input.width, 3] : [n, 3, input.height, input.width]);

  /** Runs images `from` … `to − 1` through every stage, timing each on `clock`. */
  const chunk = async (clock: StageClock, from: number, to: number, tag: string): Promise<number> => {
    const prepared: Array<{ key: string; name: string; size: number; etag: string; image: PreparedImage }> = [];
    for (let i = from; i < to; i++) {
      const img = imageAt(set, i);
      const { body, head } = await clock.time('read', () => sources.get(img.name, { maxBytes: options.limits.maxBytes }));
      const probe = await clock.time('probe', () => probeImage(body, options.limits));
      const image = await clock.time('decode', () => decodeViews(body, probe, input, options.limits, options.tiling));
      prepared.push({ key: `${tag}-${String(i).padStart(7, '0')}`, name: img.name, size: head.size, etag: head.etag, image });
    }
    const views = prepared.flatMap((p, owner) => [p.image, ...(p.image.tiles ?? [])].map((view) => ({ owner, view })));
    const found: Face[][] = views.map(() => []);
    for (let k = 0; k < views.length; k += perRun) {
      const group = views.slice(k, k + perRun);
      const data = await clock.time('pack', () => packTensor(group.map((g) => g.view.pixels), input, takeBuffer(buffers, floats)));
      const res = await clock.time('inference', () => session.run({ [input.name]: { data, dims: dims(group.length) } }));
      const back = res.inputs?.[input.name]?.data;
      if (back && buffers.length < 2) buffers.push(new Float32Array(back.buffer, 0, back.buffer.byteLength / 4));
      await clock.time('outputs', () => group.forEach((g, j) => (found[k + j] = detector.decode(res.outputs, j, g.view.letterbox, options.decode))));
    }
    let v = 0;
    for (const p of prepared) {
      const tiles = p.image.tiles ?? [];
      const whole = found[v];
      const tileFaces = tiles.map((tile, i) => ({ tile, faces: found[v + 1 + i] }));
      v += 1 + tiles.length;
      const faces = await clock.time('outputs', () => mergeTileFaces(whole, tileFaces, options.decode.iouThreshold, options.decode.maxDetections));
      await clock.time('write', () => {
        const result = resultFor(p.key, { url: `file://${set.dir}/${p.name}`, etag: p.etag, size: p.size }, detector, p.image, faces, Math.min(perRun, views.length), 'bench-stage-profile');
        return results.putIfAbsent(`${p.key}.json`, JSON.stringify(result), { contentType: 'application/json' });
      });
    }
    return views.length;
  };

  const warm = new StageClock();
  await chunk(warm, 0, Math.min(options.batch, options.count), 'warm');
  warm.stop();
  const clock = new StageClock();
  const others = new ContentionMeter(async () => selfCpuMs());
  await others.begin();
  const t0 = performance.now();
  let views = 0;
  for (let from = 0; from < options.count; from += options.batch) {
    const to = Math.min(options.count, from + options.batch);
    views += await chunk(clock, from, to, 'img');
    progress.update(to, options.count);
  }
  const seconds = (performance.now() - t0) / 1000;
  clock.stop();
  const contention = await others.share();
  let queue: QueueCost | null = null;
  if (options.queue) {
    queue = await measureQueueCost({ ...options.queue, jobs: options.queue.jobs ?? Math.max(QUEUE_JOBS_MIN, options.count) });
    if (Number.isFinite(queue.cpuMs)) clock.add('queue', queue.cpuMs * options.count, queue.wallMs * options.count);
  }
  const cpuMs = clock.cpuPerImage(options.count);
  return {
    images: options.count,
    batch: perRun,
    viewsPerImage: views / options.count,
    cpuMs,
    wallMs: clock.wallPerImage(options.count),
    gcMs: clock.gcPerImage(options.count),
    sumMs: Math.round(stageSum(cpuMs) * 1000) / 1000,
    queue,
    seconds,
    contention,
  };
}

/** A buffer handed back by the session, else a new one: the engine reuses its input buffers the same way. */
function takeBuffer(pool: Float32Array[], floats: number): Float32Array {
  const pooled = pool.pop();
  return pooled && pooled.length >= floats ? pooled : new Float32Array(floats);
}
