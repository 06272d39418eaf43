import { Job, UnrecoverableError, Worker } from 'bullmq';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DecodeOptions, Detector, Face, RawTensor } from '../../src/detectors/detector';
import { classify } from '../../src/errors';
import { packTensor } from '../../src/imaging/pack-tensor';
import { baseSessionOptions } from '../../src/inference/session-options';
import { prepareImage } from '../../src/imaging/prepare-image';
import type { TilingOptions } from '../../src/imaging/tile-plan';
import { mergeTileFaces } from '../../src/engine/merge-tiles';
import type { ImageLimits } from '../../src/imaging/probe-image';
import { createRedis } from '../../src/queue/connection';
import type { JobData } from '../../src/queue/job-data';
import { DetectionResult, RESULT_SCHEMA_ID, resultMetadata } from '../../src/queue/result';
import { StoreRegistry } from '../../src/storage/store-registry';
import { BenchQueue, benchQueueName, fileSources } from './bench-queue';
import { ContentionMeter, CpuMeter, redisCpuMs, selfCpuMs, sumOrNull } from './cpu-time';
import { PhaseResult, perImage, rate } from './phase-result';
import type { ProgressSink } from './progress';
import { StageSamples } from './stats';

/** Settings of {@link measureNaive}. */
export interface NaiveOptions {
  redisUrl: string;
  modelPath: string;
  detector: Detector;
  /** ORT intra-op threads (0: onnxruntime decides), as the pipeline's session uses. */
  threads: number;
  /** Let onnxruntime's pool threads spin, as the pipeline's session does (`ortAllowSpinning`). @defaultValue false */
  allowSpinning?: boolean;
  decode: DecodeOptions;
  limits: ImageLimits & { maxBytes: number };
  sourceDir: string;
  keys: readonly string[];
  resultsDir: string;
  /** Longest the measurement runs, s; images finished by then count. */
  seconds: number;
  /** The worker's tiling of large photos: the naive loop runs the same views, one at a time. */
  tiling?: TilingOptions;
}

/**
 * The baseline a first version of a worker would be: a BullMQ worker with concurrency 1 in this
 * process, so one job at a time — download, decode, batch of 1 through `session.run` on the main
 * thread (onnxruntime-node directly, no inference thread, no batcher), write the result, then take
 * the next job (no prefetch). Same queue, storage, photos, model file and thread setting as the
 * pipeline, and the worker's session options. Stops after `seconds` if the run is not finished by then.
 */
export async function measureNaive(options: NaiveOptions, progress: ProgressSink): Promise<PhaseResult> {
  const { detector } = options;
  const { input } = detector;
  const dims = input.layout === 'NHWC' ? [1, input.height, input.width, 3] : [1, 3, input.height, input.width];
  // The worker's own session options: the comparison is about the architecture, not the settings.
  const session = await ort.InferenceSession.create(options.modelPath, { ...baseSessionOptions({ intraOpThreads: options.threads, interOpThreads: 1, allowSpinning: options.allowSpinning }), executionProviders: ['cpu'] });
  const queueName = benchQueueName('naive');
  const bq = new BenchQueue(options.redisUrl, queueName);
  const stores = new StoreRegistry();
  const stages = new StageSamples();
  const connection = createRedis(options.redisUrl);
  let worker: Worker | undefined;
  try {
    await session.run({ [input.name]: new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b)), dims) });
    const handle = async (job: Job<JobData>) => {
      const data = job.data;
      try {
        const src = stores.resolve(data.source);
        const t0 = performance.now();
        const { body, head } = await src.store.get(src.key, { maxBytes: options.limits.maxBytes });
        const t1 = performance.now();
        const prepared = await prepareImage(body, input, options.limits, options.tiling);
        const t2 = performance.now();
        const views = [prepared, ...(prepared.tiles ?? [])];
        const found: Face[][] = [];
        let packMs = 0;
        let inferMs = 0;
        for (const view of views) {
          const a = performance.now();
          const tensor = packTensor([view.pixels], input);
          const b = performance.now();
          const res = await session.run({ [input.name]: new ort.Tensor('float32', tensor, dims) });
          const c = performance.now();
          const outputs: Record<string, RawTensor> = {};
          for (const [name, t] of Object.entries(res)) outputs[name] = { data: t.data as Float32Array, dims: t.dims };
          found.push(detector.decode(outputs, 0, view.letterbox, options.decode));
          packMs += b - a;
          inferMs += c - b;
        }
        const tiles = prepared.tiles ?? [];
        const faces = mergeTileFaces(found[0], tiles.map((tile, i) => ({ tile, faces: found[i + 1] })), options.decode.iouThreshold, options.decode.maxDetections);
        const t3 = t2 + packMs;
        const t4 = t3 + inferMs;
        const t5 = performance.now();
        const key = data.key ?? src.key;
        const result: DetectionResult = {
          schema: RESULT_SCHEMA_ID,
          key,
          source: { url: data.source, etag: head.etag, size: head.size },
          model: { id: detector.id, version: detector.version },
          image: { width: prepared.letterbox.width, height: prepared.letterbox.height, format: prepared.format },
          faces,
          timings: { downloadMs: t1 - t0, decodeMs: t2 - t1, inferenceMs: t4 - t3, postprocessMs: t5 - t4, batchSize: 1 },
          runId: data.runId,
          worker: `bench-naive-${process.pid}`,
          createdAt: new Date().toISOString(),
        };
        const dst = stores.resolve(`${data.results}/${key}.json`);
        await dst.store.put(dst.key, JSON.stringify(result), { contentType: 'application/json', metadata: { ...resultMetadata(result) } });
        const t6 = performance.now();
        for (const [stage, ms] of [['download', t1 - t0], ['decode', t2 - t1], ['pack', t3 - t2], ['inference', t4 - t3], ['postprocess', t5 - t4], ['upload', t6 - t5]] as const) stages.add(stage, ms);
        await bq.runs.record(data.runId, 'done');
      } catch (err) {
        const { code } = classify(err);
        await bq.runs.record(data.runId, 'failed', code);
        throw new UnrecoverableError(`${code}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    worker = new Worker<JobData>(queueName, handle, { connection, prefix: 'bull', concurrency: 1 });
    worker.on('error', () => undefined);
    const resultsDir = path.join(options.resultsDir, queueName);
    const mine = async () => sumOrNull([selfCpuMs(), await redisCpuMs(bq.redis)]);
    const cpu = new CpuMeter(mine);
    const others = new ContentionMeter(mine);
    await cpu.begin();
    await others.begin();
    const t0 = performance.now();
    await bq.enqueue('naive', fileSources(options.sourceDir, options.keys), `file://${resultsDir}`, detector.id);
    const budgetMs = options.seconds * 1000;
    await bq.waitForRun('naive', {
      stop: () => performance.now() - t0 > budgetMs,
      onPoll: (s) => progress.update(s.done + s.failed, options.keys.length),
    });
    await worker.close();
    const ms = performance.now() - t0;
    const cpuMs = await cpu.elapsed();
    const contention = await others.share();
    const status = await bq.runs.get('naive');
    const done = status?.done ?? 0;
    return { imagesPerSecond: rate(done, ms), images: done, seconds: ms / 1000, stages: stages.summary(), averageBatchSize: 1, failed: status?.failed ?? 0, cpuMsPerImage: perImage(cpuMs, done), contention };
  } finally {
    await worker?.close().catch(() => undefined);
    await connection.quit().catch(() => connection.disconnect());
    await bq.close().catch(() => undefined);
    await stores.closeAll().catch(() => undefined);
    await session.release().catch(() => undefined);
    await fs.rm(path.join(options.resultsDir, queueName), { recursive: true, force: true });
  }
}
