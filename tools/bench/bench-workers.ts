import path from 'node:path';
import type { ModelConfig } from '../../src/config/model-config';
import { FacefleetProcess } from '../harness/facefleet-process';

/** Where and how the spawned workers run. */
export interface WorkerSpawnOptions {
  redisUrl: string;
  queue: string;
  /** The model settings of the benchmark; the batch size is `batch`. */
  model: Readonly<ModelConfig>;
  batch: number;
  /** Jobs held at once per worker. */
  concurrency: number;
  /** Folder for a V8 CPU profile of each worker (written when it exits); unset: no profile. */
  profileDir?: string;
  /** Folders the workers' `file://` jobs read and write (`--file-roots`). */
  fileRoots: readonly string[];
  /** BullMQ queues the queue is split into (`--shards`). @defaultValue 1 */
  shards?: number;
  /** Loopback port of the worker's metrics server, for its busy-time counters; unset: no metrics server. */
  metricsPort?: number;
}

/** Environment names never passed to a benchmark worker: its settings come from flags only. */
const SCRUBBED_ENV = /^(FACEFLEET_(?!MODEL_CACHE$|S3_)|REDIS_URL$)/;

/** The `facefleet worker` flags of a benchmark setting (metrics server on loopback when `metricsPort` is set, else off). */
export function workerArgs(o: WorkerSpawnOptions): string[] {
  const m = o.model;
  return [
    'worker',
    '--queue', o.queue,
    ...(o.shards && o.shards > 1 ? ['--shards', String(o.shards)] : []),
    '--metrics-port', String(o.metricsPort ?? 0),
    ...(o.metricsPort ? ['--metrics-host', '127.0.0.1'] : []),
    '--file-roots', o.fileRoots.join(','),
    '--model', m.model,
    ...(m.modelPath ? ['--model-path', path.resolve(m.modelPath)] : []),
    '--canvas', String(m.canvas),
    ...(m.maxTiles !== undefined ? ['--max-tiles', String(m.maxTiles)] : []),
    '--batch', String(o.batch),
    '--max-wait-ms', String(m.maxWaitMs),
    '--threads', String(m.threads),
    '--providers', m.providers.join(','),
    ...(m.allowCpuFallback ? ['--allow-cpu-fallback'] : []),
    ...(m.scoreThreshold !== undefined ? ['--score-threshold', String(m.scoreThreshold)] : []),
    '--max-image-mb', String(m.maxImageMb),
    '--max-megapixels', String(m.maxMegapixels),
    '--decode-threads', String(m.decodeThreads),
    ...(m.ortAllowSpinning ? ['--ort-allow-spinning'] : []),
    '--concurrency', String(o.concurrency),
  ];
}

/**
 * Spawns one `facefleet worker` with the benchmark's settings and the caller's environment minus
 * facefleet's own; its JSON log on stderr says when it has started (`waitForStart`).
 */
export function spawnBenchWorker(options: WorkerSpawnOptions): FacefleetProcess {
  return FacefleetProcess.spawn(workerArgs(options), {
    name: 'benchmark worker',
    scrub: SCRUBBED_ENV,
    env: { REDIS_URL: options.redisUrl },
    nodeArgs: options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [],
    keepChars: 8000,
  });
}
