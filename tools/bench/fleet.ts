import fs from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { ModelConfig } from '../../src/config/model-config';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { createRedis } from '../../src/queue/connection';
import { isRunFinished, RunStatus, RunStore } from '../../src/queue/run-store';
import { checkShardCount, shardCountKey, shardsOf } from '../../src/queue/shards';
import type { FacefleetProcess } from '../harness/facefleet-process';
import { benchQueueName, fileSources } from './bench-queue';
import { spawnBenchWorker } from './bench-workers';
import { CpuMeter, redisCpuMs } from './cpu-time';
import { rate } from './phase-result';
import type { ProgressSink } from './progress';

/** Share of a core a Redis master is sized to use (docs/kubernetes.md, "Sizing the shards"). */
export const REDIS_HEADROOM = 0.7;

/** Settings of {@link measureFleet}. */
export interface FleetOptions {
  redisUrl: string;
  model: Readonly<ModelConfig>;
  batch: number;
  /** `facefleet worker` processes. */
  workers: number;
  /** Jobs held at once per worker. */
  concurrency: number;
  /** BullMQ queues the queue is split into (`--shards`). */
  shards: number;
  /** Folder holding the benchmark images. */
  sourceDir: string;
  /** Keys under `sourceDir`, one job each. */
  keys: readonly string[];
  /** Folder results are written under (one sub-folder per run). */
  resultsDir: string;
  /** How long a worker may take to load its model, ms. @defaultValue 300000 */
  startTimeoutMs?: number;
}

/** What the fleet measurement found: what one image costs redis-server, and what one core carries. */
export interface FleetCost {
  workers: number;
  shards: number;
  /** Images of the measured run. */
  images: number;
  /** Images finished per second once the queue was let go. */
  imagesPerSecond: number;
  /** Wall time of the processing, s. */
  seconds: number;
  failed: number;
  /** redis-server CPU per image, µs: enqueueing (workers paused), processing, and both. */
  redisUsPerImage: { enqueue: number | null; processing: number | null; total: number | null };
  /** Images/s one Redis core carries at {@link REDIS_HEADROOM}: 0.7 × 1e6 / total µs. */
  imagesPerSecondPerCore: number | null;
}

/**
 * The fleet's cost on Redis with the real model: `workers` spawned `facefleet worker` processes on a
 * queue of the private Redis split into `shards`, `file://` storage. After a warm-up run, every shard
 * is paused, the measured run is enqueued (redis-server's CPU read around it: the enqueue cost), the
 * shards are resumed and the clock runs until the run's record shows every image finished (the
 * processing cost). redis-server's CPU comes from its own counters (`INFO cpu`).
 */
export async function measureFleet(options: FleetOptions, progress: ProgressSink): Promise<FleetCost> {
  const queueName = benchQueueName('fleet');
  const target = { queue: queueName, prefix: 'bull', shards: options.shards };
  const redis = createRedis(options.redisUrl);
  const queues = shardsOf(target).map((s) => new Queue(s.queue, { connection: redis, prefix: s.prefix }));
  const runs = new RunStore(redis, target);
  const workers: FacefleetProcess[] = [];
  const model = options.model.model;
  const run = (runId: string, keys: readonly string[]) =>
    enqueueRun(queues, redis, runs, fileSources(options.sourceDir, keys), { runId, results: `file://${path.join(options.resultsDir, queueName, runId)}`, model, maxBacklog: Number.MAX_SAFE_INTEGER });
  const finished = async (runId: string, onPoll?: (s: RunStatus) => void): Promise<RunStatus> => {
    for (;;) {
      const dead = workers.find((w) => !w.running);
      if (dead) throw new Error(`benchmark worker ${dead.pid} exited during the fleet measurement`);
      const s = await runs.get(runId);
      if (s) onPoll?.(s);
      if (s && isRunFinished(s)) return s;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await checkShardCount(redis, target);
    for (let i = 0; i < options.workers; i++) {
      workers.push(spawnBenchWorker({ redisUrl: options.redisUrl, queue: queueName, shards: options.shards, model: options.model, batch: options.batch, concurrency: options.concurrency, fileRoots: [options.sourceDir, options.resultsDir] }));
    }
    await Promise.all(workers.map((w) => w.waitForStart(options.startTimeoutMs ?? 300_000)));
    // One batch per worker and shard: onnxruntime allocates on its first runs, and every shard's worker starts.
    await run('warm-up', options.keys.slice(0, Math.min(options.keys.length, options.batch * options.workers * options.shards)));
    await finished('warm-up');

    const redisCpu = new CpuMeter(() => redisCpuMs(redis));
    await Promise.all(queues.map((q) => q.pause()));
    await redisCpu.begin();
    await run('measured', options.keys);
    const enqueueMs = await redisCpu.elapsed();
    await redisCpu.begin();
    const t0 = performance.now();
    await Promise.all(queues.map((q) => q.resume()));
    const status = await finished('measured', (s) => progress.update(s.done + s.skipped + s.failed, s.total));
    const ms = performance.now() - t0;
    const processingMs = await redisCpu.elapsed();
    const us = (cpuMs: number | null) => (cpuMs === null || status.total === 0 ? null : Math.round((cpuMs * 1000 * 10) / status.total) / 10);
    const total = enqueueMs === null || processingMs === null ? null : us(enqueueMs + processingMs);
    return {
      workers: options.workers,
      shards: options.shards,
      images: status.total,
      imagesPerSecond: rate(status.done + status.skipped, ms),
      seconds: ms / 1000,
      failed: status.failed,
      redisUsPerImage: { enqueue: us(enqueueMs), processing: us(processingMs), total },
      imagesPerSecondPerCore: total ? Math.round((REDIS_HEADROOM * 1e6) / total) : null,
    };
  } finally {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await Promise.allSettled(queues.map((q) => q.obliterate({ force: true })));
    await Promise.allSettled(queues.map((q) => q.close()));
    await redis.del(shardCountKey(target)).catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
    await fs.rm(path.join(options.resultsDir, queueName), { recursive: true, force: true });
  }
}
