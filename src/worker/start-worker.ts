import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { storeLocations } from '../config/common';
import { imageLimits } from '../config/model-config';
import { fieldLabel } from '../config/parse';
import type { WorkerConfig } from '../config/worker-config';
import { loadModel, LoadedModel } from '../engine/build-engine';
import type { BatchStats } from '../engine/detection-engine';
import type { SessionHost } from '../inference/session-host';
import { Lifecycle } from '../lifecycle/lifecycle';
import { closeRedis, createRedis } from '../queue/connection';
import { s3ClientConfigFromEnv } from '../storage/s3-client-config';
import { StoreRegistry } from '../storage/store-registry';
import { safeRedisUrl } from '../telemetry/logger';
import { FleetMetrics } from '../telemetry/metrics';
import { startMetricsServer } from '../telemetry/metrics-server';
import { LivenessProbe } from '../telemetry/liveness';
import { QueueMonitor } from '../telemetry/queue-monitor';
import { FleetWorker } from './fleet-worker';
import { JobProcessor } from './job-processor';

/** A running worker and what it is made of. */
export interface RunningWorker {
  lifecycle: Lifecycle;
  metrics: FleetMetrics;
  fleet: FleetWorker;
  model: LoadedModel;
  /** Port of the metrics server, when enabled. */
  metricsPort?: number;
}

/** The package version, for `facefleet_worker_info`. */
export const VERSION: string = (require('../../../package.json') as { version: string }).version;

/**
 * Builds and starts a worker from its config: model and inference thread first (a fatal error stops
 * here, before anything else is opened), then Redis, storage, the BullMQ worker, the queue monitor and
 * the metrics server; jobs are taken only once all of that stands. Each part's closer is added to the
 * lifecycle as soon as the part exists, so a start that fails part-way closes what it opened before it
 * rethrows, and shutdown runs in order: stop fetching → finish the batch in flight and write its
 * results → close the session → close the queue monitor, storage and Redis → stop the metrics server →
 * flush logs.
 */
export async function startWorker(
  config: Readonly<WorkerConfig>,
  log: Logger,
  options: { handleSignals?: boolean; onBatch?: (b: BatchStats) => void } = {},
): Promise<RunningWorker> {
  const inference: { session?: SessionHost } = {};
  const lifecycle = new Lifecycle({
    drainDeadlineMs: config.drainTimeoutMs,
    logger: log,
    // Ending the process while the inference thread is inside onnxruntime aborts it (SIGABRT instead of
    // the exit code): a forced exit first lets the thread stop between two runs.
    exit: (code) => void (inference.session?.abort() ?? Promise.resolve()).then(() => process.exit(code)),
  });
  lifecycle.add({ phase: 'logs', name: 'flush logs', close: () => new Promise<void>((r) => log.flush(() => r())) });
  try {
    const metrics = new FleetMetrics();
    const onBatch = (b: BatchStats): void => {
      log.info({ batchId: `${config.workerId}:${b.batchId}`, jobIds: b.tags, size: b.size, preprocessMs: b.preprocessMs, inferenceMs: b.inferenceMs, postprocessMs: b.postprocessMs }, 'batch');
      options.onBatch?.(b);
    };
    const model = await loadModel(config, { metrics, onPull: (m) => log.info(m), onBatch });
    inference.session = model.session;
    lifecycle.add({ phase: 'session', name: 'close the inference session', close: () => model.close() });
    for (const w of model.warnings) log.warn(w);
    metrics.initSeries(config.queue, model.detector.id);
    metrics.workerInfo.labels(VERSION, model.detector.id, model.detector.version, model.session.info.provider).set(1);

    const redis = createRedis(config.redisUrl);
    lifecycle.add({ phase: 'connections', name: 'close redis', close: () => closeRedis(redis) });
    // file:// is off unless the operator named folders: a shared worker must not read or write the host's
    // files. Buckets are confined when --allowed-locations names any.
    const stores = new StoreRegistry({ s3: s3ClientConfigFromEnv(process.env), ...storeLocations(config.allowedLocations, config.fileRoots) });
    lifecycle.add({ phase: 'clients', name: 'close storage', close: () => stores.closeAll() });
    const processor = new JobProcessor({
      engine: model.engine,
      stores,
      limits: imageLimits(config),
      workerId: config.workerId,
      forceIncremental: config.forceIncremental,
      metrics,
    });
    const target = { queue: config.queue, prefix: config.redisPrefix };
    // Not running yet: a job taken now would be held by a worker that may still fail to start.
    const fleet = new FleetWorker(processor, redis, { target, concurrency: config.effectiveConcurrency, lockDurationMs: config.lockDurationMs, stalledIntervalMs: config.stalledIntervalMs, autorun: false }, log, metrics);
    lifecycle.add({ phase: 'intake', name: 'stop fetching and finish jobs in hand', close: () => fleet.close() });
    const monitorQueue = new Queue(config.queue, { connection: redis, prefix: config.redisPrefix });
    // Without a listener BullMQ prints connection errors with console.error, failed AUTH arguments included.
    monitorQueue.on('error', (err) => log.warn({ err }, 'queue monitor: redis error'));
    const monitor = new QueueMonitor(monitorQueue, metrics);
    // A stuck worker is one that finished nothing for five lock durations while jobs waited.
    const liveness = new LivenessProbe({ queue: () => monitor.snapshot, held: () => fleet.activeJobs, excused: () => fleet.breaker.open, progressStallMs: Math.max(300_000, 5 * config.lockDurationMs) });
    lifecycle.add({ phase: 'clients', name: 'stop the queue monitor', close: async () => { monitor.stop(); liveness.stop(); await monitorQueue.close(); } });
    monitor.start();
    liveness.start();
    fleet.worker.on('completed', () => liveness.jobFinished());
    fleet.worker.on('failed', () => liveness.jobFinished());
    let metricsPort: number | undefined;
    if (config.metricsPort > 0) {
      const server = await startMetricsServer({
        host: config.metricsHost,
        port: config.metricsPort,
        option: fieldLabel(config, 'metricsPort'),
        registry: metrics.registry,
        liveness: () => liveness.check(),
        readiness: async () => {
          if (lifecycle.state !== 'running') return { ok: false, reason: lifecycle.state };
          if (!model.session.alive) return { ok: false, reason: 'inference thread down' };
          if (redis.status !== 'ready') return { ok: false, reason: `redis ${redis.status}` };
          if (!(await pings(redis, 2000))) return { ok: false, reason: 'redis does not answer PING' };
          if (fleet.breaker.open) return { ok: false, reason: 'storage unreachable' };
          return { ok: true };
        },
      });
      metricsPort = server.port;
      lifecycle.add({ phase: 'server', name: 'stop the metrics server', close: server.close });
    }

    if (options.handleSignals !== false) lifecycle.handleSignals();
    lifecycle.running();
    // BullMQ's own autorun reports a failed run loop the same way.
    fleet.run().catch((err: unknown) => log.error({ err }, 'worker error'));
    log.info(
      { queue: config.queue, prefix: config.redisPrefix, redis: safeRedisUrl(config.redisUrl), model: model.detector.id, modelVersion: model.detector.version, provider: model.session.info.provider, batch: config.batch, concurrency: config.effectiveConcurrency, metricsPort, loadMs: Math.round(model.loadMs) },
      'worker started',
    );
    return { lifecycle, metrics, fleet, model, metricsPort };
  } catch (err) {
    await lifecycle.close();
    throw err;
  }
}

/** True when Redis answers PING within `timeoutMs`. */
async function pings(redis: Redis, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  try {
    return await Promise.race([redis.ping().then((pong) => pong === 'PONG', () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
