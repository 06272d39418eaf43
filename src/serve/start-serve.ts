import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ServeConfig } from '../config/serve-config';
import { API_TOKEN_ENV } from '../config/serve-config';
import { runTtlSeconds, storeLocations } from '../config/common';
import { fieldLabel } from '../config/parse';
import { loadModel, LoadedModel } from '../engine/build-engine';
import { Lifecycle } from '../lifecycle/lifecycle';
import { FacefleetError, listenError } from '../errors';
import { closeRedis, openRedis, RedisClient } from '../queue/connection';
import { RunStore } from '../queue/run-store';
import { checkShardCount, shardsOf } from '../queue/shards';
import { s3ClientConfigFromEnv } from '../storage/s3-client-config';
import { StoreRegistry } from '../storage/store-registry';
import { safeRedisUrl } from '../telemetry/logger';
import { FleetMetrics } from '../telemetry/metrics';
import { VERSION } from '../worker/start-worker';
import { Admission } from './admission';
import { buildServer } from './build-server';
import { defaultConsoleDir } from './console-assets';
import { BackgroundEnqueues } from './background-enqueues';
import { HostAllowList } from './host-allow-list';

/** A running `facefleet serve` and what it is made of. */
export interface RunningServer {
  lifecycle: Lifecycle;
  metrics: FleetMetrics;
  model: LoadedModel;
  app: FastifyInstance;
  admission: Admission;
  /** The port bound (useful with port 0). */
  port: number;
  /** `http://host:port` to reach it. */
  url: string;
}

/** Options of {@link startServe}. */
export interface StartServeOptions {
  /** Install SIGTERM/SIGINT handlers. @defaultValue true */
  handleSignals?: boolean;
  /** Console folder. @defaultValue `src/console` of the checkout */
  consoleDir?: string;
}

/**
 * Starts `facefleet serve`: the model and its inference thread first (a fatal error stops here), then
 * Redis, storage and the HTTP server. The queue's recorded shard count is checked against `shards`
 * (recorded if none is) before the server listens when Redis answers within 5 s, else on the first
 * run request: a mismatch fails the start (`E_CONFIG`), or answers every run route with it. Each part's closer is added to the lifecycle as soon as the part
 * exists, so a start that fails part-way (a port in use, say) closes what it opened before it rethrows;
 * shutdown runs in order: refuse new detections and stop listening (requests in flight finish) → stop
 * background enqueues → close the session → close the queue, storage and Redis → flush logs.
 */
export async function startServe(config: Readonly<ServeConfig>, log: Logger, options: StartServeOptions = {}): Promise<RunningServer> {
  const lifecycle = new Lifecycle({ drainDeadlineMs: config.drainTimeoutMs, logger: log });
  lifecycle.add({ phase: 'logs', name: 'flush logs', close: () => new Promise<void>((r) => log.flush(() => r())) });
  try {
    const metrics = new FleetMetrics();
    const model = await loadModel(config, { metrics, onPull: (m) => log.info(m) });
    lifecycle.add({ phase: 'session', name: 'close the inference session', close: () => model.close() });
    for (const w of model.warnings) log.warn(w);
    metrics.workerInfo.labels(VERSION, model.detector.id, model.detector.version, model.session.info.provider).set(1);

    const redis = openRedis(config);
    lifecycle.add({ phase: 'connections', name: 'close redis', close: () => closeRedis(redis) });
    // A Redis that is down must not crash the server: detection works without it, run routes answer 503.
    redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
    const target = { queue: config.queue, prefix: config.redisPrefix, shards: config.shards };
    const queues = shardsOf(target).map((shard) => {
      const queue = new Queue(shard.queue, { connection: redis, prefix: shard.prefix });
      queue.on('error', (err: Error) => log.debug({ err: err.message }, 'queue error'));
      return queue;
    });
    lifecycle.add({ phase: 'clients', name: 'close the queue', close: async () => void (await Promise.all(queues.map((q) => q.close()))) });
    const shardsChecked = shardCheck(redis, target, fieldLabel(config, 'shards'));
    // The routes check every location against --allowed-locations; the storage layer confines them too
    // (one store per file root, so symlinks cannot lead out; file:// off without file:/// entries).
    const stores = new StoreRegistry({ s3: s3ClientConfigFromEnv(process.env), ...storeLocations(config.allowedLocations) });
    lifecycle.add({ phase: 'clients', name: 'close storage', close: () => stores.closeAll() });
    const background = new BackgroundEnqueues();
    lifecycle.add({ phase: 'background', name: 'stop background enqueues', close: () => background.close() });
    let lastTick = Date.now();
    const ticker = setInterval(() => (lastTick = Date.now()), 1000);
    ticker.unref();
    lifecycle.add({ phase: 'clients', name: 'stop the liveness ticker', close: () => clearInterval(ticker) });

    // An install without the console's files (an image that copied only dist/) still serves the API.
    let consoleDir = config.console ? options.consoleDir ?? defaultConsoleDir() : undefined;
    if (consoleDir && !fs.existsSync(path.join(consoleDir, 'index.html'))) {
      log.warn({ consoleDir }, 'console files not found: serving the API without the console');
      consoleDir = undefined;
    }
    const { app, admission } = await buildServer({
      engine: model.engine,
      metrics,
      log,
      apiToken: config.apiToken,
      admission: { maxInFlight: config.maxInFlight, maxQueue: config.maxQueue, queueTimeoutMs: config.queueTimeoutMs },
      maxBytes: config.maxBytes,
      maxPixels: config.maxPixels,
      workerId: config.workerId,
      version: VERSION,
      liveness: () => (Date.now() - lastTick < 10_000 ? { ok: true } : { ok: false, reason: 'event loop stalled' }),
      readiness: () => {
        if (lifecycle.state !== 'running') return { ok: false, reason: lifecycle.state };
        if (!model.session.alive) return { ok: false, reason: 'inference thread down' };
        return { ok: true };
      },
      runs: {
        queues,
        redis,
        runs: new RunStore(redis, target, { ttlSeconds: runTtlSeconds(config.runTtlDays) }),
        shardsChecked,
        stores,
        defaultModel: model.detector.id,
        allowedLocations: config.allowedLocations,
        attempts: config.attempts,
        keepCompleted: config.keepCompleted,
        maxBacklog: config.maxBacklog,
        maxBytes: config.maxBytes,
        background,
      },
      consoleDir,
      allowedHosts: HostAllowList.forBind(config.host, config.allowedHosts),
      timeouts: { headersMs: config.headersTimeoutMs, requestMs: config.requestTimeoutMs, keepAliveMs: config.keepAliveTimeoutMs },
    });
    lifecycle.add({
      phase: 'intake',
      name: 'stop accepting requests and finish those in flight',
      close: async () => {
        admission.close();
        await app.close();
      },
    });

    // Run routes answer 503 until Redis is ready; give it a moment so a healthy start serves them at once.
    if (!(await redisReady(redis, 5000))) log.warn({ redis: safeRedisUrl(config.redisUrl), status: redis.status }, 'redis is not reachable yet: detection works, run routes answer 503 until it is');
    else {
      await shardsChecked().catch((err: unknown) => {
        if (err instanceof FacefleetError && err.code === 'E_CONFIG') throw err;
        log.warn({ err: (err as Error)?.message }, 'cannot read the shard count yet: run routes check it on their first request');
      });
    }
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (err) {
      throw listenError(err, fieldLabel(config, 'port'), config.host, config.port);
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    if (options.handleSignals !== false) lifecycle.handleSignals();
    lifecycle.running();

    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host}:${port}`;
    const warning = bindWarning(config);
    if (warning) {
      log.warn({ host: config.host }, warning);
    }
    log.info(
      { url, auth: config.apiToken ? 'bearer' : 'none', queue: config.queue, redis: safeRedisUrl(config.redisUrl), model: model.detector.id, modelVersion: model.detector.version, provider: model.session.info.provider, batch: config.batch, maxWaitMs: config.maxWaitMs, maxInFlight: config.maxInFlight, maxQueue: config.maxQueue, loadMs: Math.round(model.loadMs) },
      'serve listening',
    );
    return { lifecycle, metrics, model, app, admission, port, url };
  } catch (err) {
    await lifecycle.close();
    throw err;
  }
}

/** The warning printed when the server is reachable from other machines without a token, if it is. */
export function bindWarning(config: Pick<ServeConfig, 'host' | 'loopback' | 'apiToken'>): string | undefined {
  if (config.loopback || config.apiToken) return undefined;
  return `serving on ${config.host}, reachable from other machines, WITHOUT authentication: anyone who can connect can run detections, enqueue jobs and read results. Set ${API_TOKEN_ENV} to require a bearer token.`;
}

/**
 * The shard-count check of the run routes: run once it succeeds or finds a mismatch (`E_CONFIG`, then
 * answered for good); a Redis error leaves it to be tried again on the next request.
 */
function shardCheck(redis: RedisClient, target: { queue: string; prefix: string; shards: number }, field: string): () => Promise<void> {
  let verdict: Promise<void> | undefined;
  return () => {
    verdict ??= checkShardCount(redis, target, { field }).then(
      () => undefined,
      (err: unknown) => {
        if (!(err instanceof FacefleetError && err.code === 'E_CONFIG')) verdict = undefined;
        throw err;
      },
    );
    return verdict;
  };
}

/** Resolves true once the connection is ready, false after `ms`. */
function redisReady(redis: RedisClient, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
