import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { storeLocations } from '../config/common';
import { imageLimits } from '../config/model-config';
import { fieldLabel } from '../config/parse';
import type { WorkerConfig } from '../config/worker-config';
import { loadModel, LoadedModel } from '../engine/build-engine';
import type { BatchStats } from '../engine/detection-engine';
import type { SessionHost } from '../inference/session-host';
import { FacefleetError } from '../errors';
import { Lifecycle } from '../lifecycle/lifecycle';
import { closeRedis, openRedis, RedisClient } from '../queue/connection';
import { checkShardCount, ShardedTarget } from '../queue/shards';
import { s3ClientConfigFromEnv } from '../storage/s3-client-config';
import { StoreRegistry } from '../storage/store-registry';
import { safeRedisUrl } from '../telemetry/logger';
import { FleetMetrics } from '../telemetry/metrics';
import { startMetricsServer } from '../telemetry/metrics-server';
import { LivenessProbe } from '../telemetry/liveness';
import { combinedSnapshot, QueueMonitor } from '../telemetry/queue-monitor';
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

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Install SIGTERM/SIGINT handlers. @defaultValue true */
  handleSignals?: boolean;
  /** Called with each batch's timings. */
  onBatch?: (b: BatchStats) => void;
  /**
   * Called, after everything was closed, with the `E_CONFIG` error of a shard count that does not
   * match the queue's (found once Redis answers, after the start resolved). @defaultValue logs it
   */
  onFatal?: (err: unknown) => void;
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
 * flush logs. Before the first job, the queue's recorded shard count is checked against `shards`
 * (recorded if none is), tried again until Redis answers; until then the worker is live but not
 * ready. A worker splitting the queue another way than its producers takes no job: it closes
 * everything and hands the `E_CONFIG` error to `onFatal`.
 */
export async function startWorker(
  config: Readonly<WorkerConfig>,
  log: Logger,
  options: StartWorkerOptions = {},
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
    const split = config.shards > 1;
    metrics.initSeries(config.queue, model.detector.id, split ? config.consumedShards.map(String) : undefined);
    metrics.workerInfo.labels(VERSION, model.detector.id, model.detector.version, model.session.info.provider).set(1);
    for (const shard of config.consumedShards) metrics.workerShards.labels(config.queue, String(shard)).set(1);

    const redis = openRedis(config);
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
    const target = { queue: config.queue, prefix: config.redisPrefix, shards: config.shards };
    // Not running yet: a job taken now would be held by a worker that may still fail to start.
    const fleet = new FleetWorker(
      processor,
      redis,
      { target, shardIds: config.consumedShards, concurrency: config.effectiveConcurrency, lockDurationMs: config.lockDurationMs, stalledIntervalMs: config.stalledIntervalMs, autorun: false },
      log,
      metrics,
    );
    lifecycle.add({ phase: 'intake', name: 'stop fetching and finish jobs in hand', close: () => fleet.close() });
    // One monitor per consumed shard: each worker reports the depth of what it takes jobs from.
    const monitors = fleet.shards.map((shard) => {
      const queue = new Queue(shard.queue, { connection: redis, prefix: shard.prefix });
      // Without a listener BullMQ prints connection errors with console.error, failed AUTH arguments included.
      queue.on('error', (err) => log.warn({ err, ...(split ? { shard: shard.index } : {}) }, 'queue monitor: redis error'));
      return { queue, monitor: new QueueMonitor(queue, metrics, { queueLabel: config.queue, shard: split ? String(shard.index) : undefined }) };
    });
    // A stuck worker is one that finished nothing for five lock durations while jobs waited.
    const liveness = new LivenessProbe({ queue: () => combinedSnapshot(monitors.map((m) => m.monitor)), held: () => fleet.activeJobs, excused: () => fleet.breaker.open, progressStallMs: Math.max(300_000, 5 * config.lockDurationMs) });
    lifecycle.add({
      phase: 'clients',
      name: 'stop the queue monitor',
      close: async () => {
        liveness.stop();
        for (const m of monitors) m.monitor.stop();
        await Promise.all(monitors.map((m) => m.queue.close()));
      },
    });
    for (const m of monitors) m.monitor.start();
    liveness.start();
    fleet.onFinished(() => liveness.jobFinished());
    let shardsChecked = false;
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
          if (!shardsChecked) return { ok: false, reason: 'the shard count is not checked yet' };
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
    // Jobs are taken once the shard count is known to match; Redis may not answer yet (down, or a
    // password being rotated), and the worker waits for it as it waits for Redis anyway.
    void untilShardsChecked(redis, target, fieldLabel(config, 'shards'), log, () => lifecycle.state === 'running').then(
      (checked) => {
        if (!checked) return;
        shardsChecked = true;
        // BullMQ's own autorun reports a failed run loop the same way.
        fleet.run().catch((err: unknown) => log.error({ err }, 'worker error'));
      },
      async (err: unknown) => {
        await lifecycle.close();
        if (options.onFatal) options.onFatal(err);
        else log.error({ err }, 'worker stopped: the shard count does not match');
      },
    );
    log.info(
      { queue: config.queue, prefix: config.redisPrefix, redis: safeRedisUrl(config.redisUrl), ...(config.redisCluster ? { redisCluster: true } : {}), ...(split ? { shards: config.shards, shardIds: config.consumedShards } : {}), model: model.detector.id, modelVersion: model.detector.version, provider: model.session.info.provider, batch: config.batch, concurrency: config.effectiveConcurrency, metricsPort, loadMs: Math.round(model.loadMs) },
      'worker started',
    );
    return { lifecycle, metrics, fleet, model, metricsPort };
  } catch (err) {
    await lifecycle.close();
    throw err;
  }
}

/**
 * Checks the shard count (see `checkShardCount`) until Redis answers: resolves true once it matches,
 * false when `going()` turns false first (the worker is stopping); rejects with the `E_CONFIG` of a
 * mismatch. Other failures (Redis down, a refused password) are logged once each and tried again.
 */
async function untilShardsChecked(redis: RedisClient, target: ShardedTarget, field: string, log: Logger, going: () => boolean): Promise<boolean> {
  let said = '';
  for (let attempt = 0; going(); attempt++) {
    try {
      await checkShardCount(redis, target, { field });
      return true;
    } catch (err) {
      if (err instanceof FacefleetError && err.code === 'E_CONFIG') throw err;
      const message = err instanceof Error ? err.message : String(err);
      if (message !== said) log.warn({ err: message }, 'cannot check the shard count yet: no job is taken until Redis answers');
      said = message;
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5000)));
    }
  }
  return false;
}

/** True when Redis answers PING within `timeoutMs`. */
async function pings(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  try {
    return await Promise.race([redis.ping().then((pong) => pong === 'PONG', () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
