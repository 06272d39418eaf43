import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ServeConfig } from '../config/serve-config';
import { API_TOKEN_ENV } from '../config/serve-config';
import { runTtlSeconds, storeLocations } from '../config/common';
import { fieldLabel } from '../config/parse';
import { loadModel, LoadedModel } from '../engine/build-engine';
import { Lifecycle } from '../lifecycle/lifecycle';
import { listenError } from '../errors';
import { closeRedis, createRedis } from '../queue/connection';
import { RunStore } from '../queue/run-store';
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
 * Redis, storage and the HTTP server. Each part's closer is added to the lifecycle as soon as the part
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

    const redis = createRedis(config.redisUrl);
    lifecycle.add({ phase: 'connections', name: 'close redis', close: () => closeRedis(redis) });
    // A Redis that is down must not crash the server: detection works without it, run routes answer 503.
    redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
    const queue = new Queue(config.queue, { connection: redis, prefix: config.redisPrefix });
    queue.on('error', (err: Error) => log.debug({ err: err.message }, 'queue error'));
    lifecycle.add({ phase: 'clients', name: 'close the queue', close: () => queue.close() });
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
        queue,
        redis,
        runs: new RunStore(redis, { queue: config.queue, prefix: config.redisPrefix }, { ttlSeconds: runTtlSeconds(config.runTtlDays) }),
        stores,
        defaultModel: model.detector.id,
        allowedLocations: config.allowedLocations,
        attempts: config.attempts,
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

/** Resolves true once the connection is ready, false after `ms`. */
function redisReady(redis: Redis, ms: number): Promise<boolean> {
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
