import fs from 'node:fs/promises';
import path from 'node:path';
import type { ModelConfig } from '../../src/config/model-config';
import { loadServeConfig } from '../../src/config/serve-config';
import { ServeLoadRow, measureServeLoad, serveLoadStarter } from './serve-load';
import { createLogger } from '../../src/telemetry/logger';
import type { BenchImageSet } from './bench-images';
import { benchQueueName } from './bench-queue';
import type { ProgressSink } from './progress';

/** Settings of {@link measureServe}. */
export interface ServePhaseOptions {
  redisUrl: string;
  model: Readonly<ModelConfig>;
  /** Measured time per row, s. */
  seconds: number;
  /** Callers at once, one row each. @defaultValue [1, 8, 32] */
  concurrencies?: readonly number[];
}

const CONTENT_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif', '.tif': 'image/tiff', '.tiff': 'image/tiff', '.avif': 'image/avif', '.heic': 'image/heif', '.heif': 'image/heif' };

/**
 * The serve load figure inside the benchmark: `facefleet serve` on loopback with the benchmark's model
 * settings (no token, no console), closed-loop `POST /v1/detect` of the benchmark photos at each
 * concurrency, with dynamic batching on and then off, each on a fresh server.
 */
export async function measureServe(set: BenchImageSet, options: ServePhaseOptions, progress: ProgressSink): Promise<ServeLoadRow[]> {
  const m = options.model;
  const config = loadServeConfig(
    {
      redisUrl: options.redisUrl,
      queue: benchQueueName('serve'),
      model: m.model,
      modelPath: m.modelPath,
      canvas: m.canvas,
      batch: m.batch,
      maxWaitMs: m.maxWaitMs,
      threads: m.threads,
      providers: m.providers.join(','),
      allowCpuFallback: m.allowCpuFallback,
      scoreThreshold: m.scoreThreshold,
      maxImageMb: m.maxImageMb,
      maxMegapixels: m.maxMegapixels,
      decodeThreads: m.decodeThreads,
      ortAllowSpinning: m.ortAllowSpinning,
    },
    {},
  );
  const images = await Promise.all(set.images.map(async (img) => ({ body: await fs.readFile(img.file), type: CONTENT_TYPES[path.extname(img.name).toLowerCase()] ?? 'application/octet-stream' })));
  const concurrencies = options.concurrencies ?? [1, 8, 32];
  let rows = 0;
  return measureServeLoad({
    start: serveLoadStarter(config, createLogger({ level: 'silent' }), Math.max(...concurrencies)),
    images,
    concurrencies,
    durationMs: options.seconds * 1000,
    onRow: (r) => {
      progress.update(++rows, concurrencies.length * 2, 'rows');
      progress.end(`batching ${r.batching ? 'on' : 'off'}, ${r.concurrency} caller(s): ${r.rps} req/s, p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, mean batch ${r.meanBatch}`);
    },
  });
}
