import pino from 'pino';
import { WORKER_OPTIONS } from '../../src/config/worker-config';
import type { DetectionEngine } from '../../src/engine/detection-engine';
import { parseJobData } from '../../src/queue/job-data';
import type { JobSummary } from '../../src/queue/result';
import { StoreRegistry } from '../../src/storage/store-registry';
import { FleetMetrics } from '../../src/telemetry/metrics';
import { FleetWorker } from '../../src/worker/fleet-worker';
import { JobProcessor } from '../../src/worker/job-processor';
import { BenchQueue, benchQueueName, fileSources } from './bench-queue';
import { redisCpuMs, selfCpuMs } from './cpu-time';

/** Settings of {@link measureQueueCost}. */
export interface QueueCostOptions {
  redisUrl: string;
  /** The loaded model's engine: it names the model; no image reaches it. */
  engine: DetectionEngine;
  /** Jobs of the measured run. */
  jobs: number;
  /** Jobs held at once, as the worker holds them. */
  concurrency: number;
  /** Folder the jobs' `file://` sources name (never read). */
  sourceDir: string;
}

/** What the queue costs per image: this process's share (the worker side) and redis-server's. */
export interface QueueCost {
  jobs: number;
  /** Worker-side CPU (BullMQ, run counters, metrics) plus redis-server's (enqueue and processing), ms per image. */
  cpuMs: number;
  /** The worker side alone, ms per image. */
  workerCpuMs: number;
  /** redis-server alone, ms per image. */
  redisCpuMs: number;
  /** Wall time of the processing per image, ms. */
  wallMs: number;
}

/** A job processor that does no work: what is left of a job is its queue operations. */
class NoWorkProcessor extends JobProcessor {
  override async process(raw: unknown): Promise<JobSummary> {
    const data = parseJobData(raw);
    return { status: 'done', key: data.key ?? data.source, result: '', faces: 0 };
  }
}

/**
 * The queue stage on its own: `jobs` jobs enqueued as `facefleet enqueue` does, then taken by the
 * worker's own {@link FleetWorker} (its BullMQ options, run counters and metrics) in this process with
 * a processor that does nothing. Counted: redis-server's CPU for the enqueue and the processing
 * (`INFO cpu`), and this process's CPU while the jobs are processed; the producer's own CPU is not,
 * as the pipeline measurement does not count it. A warm-up run goes first.
 */
export async function measureQueueCost(options: QueueCostOptions): Promise<QueueCost> {
  const queueName = benchQueueName('queue-cost');
  const bq = new BenchQueue(options.redisUrl, queueName);
  const stores = new StoreRegistry();
  const processor = new NoWorkProcessor({ engine: options.engine, stores, limits: { maxPixels: 1, maxBytes: 1 }, workerId: `bench-queue-${process.pid}`, forceIncremental: false });
  const model = options.engine.detector.id;
  const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(7, '0')}.jpg`);
  const results = 'file:///nowhere/results';
  /** A fresh worker (a closed BullMQ worker does not start again) that resolves once `jobs` finished. */
  const consume = (jobs: number) => {
    const fleet = new FleetWorker(
      processor,
      bq.redis,
      { target: { queue: queueName, prefix: 'bull', shards: 1 }, concurrency: options.concurrency, lockDurationMs: WORKER_OPTIONS.lockDurationMs.default, autorun: false },
      pino({ level: 'silent' }),
      new FleetMetrics(),
    );
    let finished = 0;
    const done = new Promise<void>((resolve) => fleet.onFinished(() => ++finished >= jobs && resolve()));
    const running = fleet.run();
    return { done, close: async () => { await fleet.close(); await running; } };
  };
  let worker: { close: () => Promise<void> } | undefined;
  try {
    const warm = Math.min(100, options.jobs);
    await bq.enqueue('warm-up', fileSources(options.sourceDir, keys('warm', warm)), results, model);
    const warmUp = (worker = consume(warm));
    await warmUp.done;
    await warmUp.close();

    const redis0 = await redisCpuMs(bq.redis);
    await bq.enqueue('measured', fileSources(options.sourceDir, keys('job', options.jobs)), results, model);
    const self0 = selfCpuMs();
    const t0 = performance.now();
    const measured = (worker = consume(options.jobs));
    await measured.done;
    const wallMs = performance.now() - t0;
    const selfMs = selfCpuMs() - self0;
    const redis1 = await redisCpuMs(bq.redis);
    await measured.close();
    const redisMs = redis0 === null || redis1 === null ? Number.NaN : redis1 - redis0;
    const per = (ms: number) => Math.round((ms / options.jobs) * 1000) / 1000;
    return { jobs: options.jobs, cpuMs: per(selfMs + redisMs), workerCpuMs: per(selfMs), redisCpuMs: per(redisMs), wallMs: per(wallMs) };
  } finally {
    await worker?.close().catch(() => undefined);
    await bq.close().catch(() => undefined);
    await stores.closeAll().catch(() => undefined);
  }
}
