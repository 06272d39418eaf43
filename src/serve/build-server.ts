import { randomBytes } from 'node:crypto';
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { DetectionEngine } from '../engine/detection-engine';
import type { HealthVerdict } from '../telemetry/metrics-server';
import type { FleetMetrics } from '../telemetry/metrics';
import { Admission } from './admission';
import { ApiError, toApiError } from './api-error';
import { BearerAuth } from './bearer-auth';
import { consoleAssets } from './console-assets';
import { detectRoute } from './detect-route';
import { HostAllowList } from './host-allow-list';
import { OpenApiCollector } from './openapi';
import { QUEUES_PATH, queuesBoard } from './queues-board';
import { errorSchema } from './route-schemas';
import { RunsRoutesOptions, runsRoutes } from './runs-routes';
import { ServeMetrics } from './serve-metrics';

/** What the HTTP server is built from. */
export interface ServerDeps {
  engine: DetectionEngine;
  metrics: FleetMetrics;
  log: Logger;
  /** Token every non-public route requires; none: no authentication. */
  apiToken?: string;
  admission: { maxInFlight: number; maxQueue: number; queueTimeoutMs: number };
  /** Largest body, bytes, and decoded image, pixels. */
  maxBytes: number;
  maxPixels: number;
  workerId: string;
  /** Liveness: is the process making progress? */
  liveness: () => HealthVerdict;
  /** Readiness: can detection requests be served now? */
  readiness: () => HealthVerdict;
  /** The queue side (`/v1/jobs`, `/v1/runs…`); left out when absent. */
  runs?: Omit<RunsRoutesOptions, 'log'>;
  /** Mount the BullMQ board under `/queues` (needs `runs`). @defaultValue true */
  queuesBoard?: boolean;
  /** Folder of the console's static files; none: no console. */
  consoleDir?: string;
  version: string;
  /** `Host` names accepted; any other answers 421 `E_MISDIRECTED`. @defaultValue any */
  allowedHosts?: HostAllowList;
  /** Connection timeouts, ms: headers received, whole request received, idle keep-alive. @defaultValue 10000, 60000, 5000 */
  timeouts?: ServerTimeouts;
}

/** Timeouts of the HTTP server, ms. */
export interface ServerTimeouts {
  /** Longest time to receive the headers. */
  headersMs: number;
  /** Longest time to receive the whole request (headers and body) from its first byte. */
  requestMs: number;
  /** How long an idle keep-alive connection is kept. */
  keepAliveMs: number;
}

const DEFAULT_TIMEOUTS: ServerTimeouts = { headersMs: 10_000, requestMs: 60_000, keepAliveMs: 5_000 };

/** The built server and the admission control in front of detection. */
export interface BuiltServer {
  app: FastifyInstance;
  admission: Admission;
  serveMetrics: ServeMetrics;
}

/**
 * Builds the Fastify app of `facefleet serve` (not listening yet): errors as `{ code, message }` with
 * mapped statuses, bearer auth, request metrics on the process's registry, health, `/metrics`,
 * `/openapi.json`, detection, the run routes and the console.
 */
export async function buildServer(deps: ServerDeps): Promise<BuiltServer> {
  const timeouts = deps.timeouts ?? DEFAULT_TIMEOUTS;
  const app = Fastify({
    // Node enforces the header and request timeouts by sweeping connections every
    // connectionsCheckingInterval (30 s by default), which would let a slow sender outlive a short limit.
    http: {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(timeouts.headersMs, timeouts.requestMs) / 4))),
    },
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    logger: false,
    genReqId: () => randomBytes(8).toString('hex'),
    // Draining is answered by our own 503 with a JSON body and Retry-After.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
  });
  const serveMetrics = new ServeMetrics(deps.metrics.registry);
  const admission = new Admission({
    ...deps.admission,
    onChange: (inFlight, queued) => {
      serveMetrics.detectInFlight.set(inFlight);
      serveMetrics.detectQueued.set(queued);
    },
    onReject: (reason) => serveMetrics.detectRejected.inc({ reason }),
  });
  const auth = deps.apiToken ? new BearerAuth(deps.apiToken) : undefined;
  const openapi = new OpenApiCollector({
    title: 'facefleet',
    version: deps.version,
    description: 'Face detection over HTTP with dynamic batching across callers, and the runs of the queue fleet.',
    bearer: auth !== undefined,
  });
  openapi.attach(app);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const t0 = performance.now();
    serveMetrics.inFlight.inc();
    reply.header('x-request-id', req.id);
    reply.raw.once('close', () => {
      serveMetrics.inFlight.dec();
      const route = req.routeOptions.url ?? 'unmatched';
      // A caller that went away before the answer was written is counted as 499, as nginx does.
      const status = reply.raw.writableFinished ? String(reply.statusCode) : '499';
      serveMetrics.requests.inc({ method: req.method, route, status });
      serveMetrics.duration.observe({ method: req.method, route }, (performance.now() - t0) / 1000);
      if (reply.statusCode >= 500) deps.log.warn({ reqId: req.id, method: req.method, route, status }, 'request failed');
      else deps.log.debug({ reqId: req.id, method: req.method, route, status, ms: Math.round(performance.now() - t0) }, 'request');
    });
    // Probes stay reachable by address (kubelet sends the pod IP); everything else needs a known Host.
    if (deps.allowedHosts && !deps.allowedHosts.allows(req.headers.host) && req.routeOptions.config?.probe !== true) {
      throw new ApiError('E_MISDIRECTED', `this server does not answer to Host ${JSON.stringify(String(req.headers.host ?? '').slice(0, 100))}: add it to --allowed-hosts (FACEFLEET_SERVE_ALLOWED_HOSTS)`);
    }
    if (auth && req.routeOptions.config?.public !== true) {
      // The board's pages are opened by navigation, which carries cookies but no Authorization header.
      // Decided by the route matched, not the raw URL, so no spelling of a path can borrow the cookie.
      if (isBoardRoute(req.routeOptions.url) && auth.hasBoardCookie(req.headers.cookie)) return;
      auth.check(req.headers.authorization);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const api = toApiError(err);
    if (api.code === 'E_INTERNAL') deps.log.error({ reqId: req.id, err }, 'unhandled error');
    if (api.status === 401) reply.header('www-authenticate', 'Bearer');
    if (api.retryAfterS !== undefined) reply.header('retry-after', String(api.retryAfterS));
    reply.code(api.status).header('cache-control', 'no-store').send({ code: api.code, message: api.message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ code: 'E_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  const probe = (check: () => HealthVerdict) => async (_req: FastifyRequest, reply: FastifyReply) => {
    const verdict = check();
    if (!verdict.ok) reply.code(503).header('retry-after', '1');
    return { status: verdict.ok ? 'ok' : 'fail', ...(verdict.reason ? { reason: verdict.reason } : {}) };
  };
  const health = { type: 'object', properties: { status: { type: 'string', enum: ['ok', 'fail'] }, reason: { type: 'string' } } };
  app.get('/healthz', { config: { public: true, probe: true, openapi: { responses: { 200: health, 503: health } } }, schema: { summary: 'Liveness', tags: ['health'] } }, probe(deps.liveness));
  app.get('/readyz', { config: { public: true, probe: true, openapi: { responses: { 200: health, 503: health } } }, schema: { summary: 'Readiness: model loaded, inference thread up, not draining', tags: ['health'] } }, probe(deps.readiness));
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics: requests, admission, batches, stages', tags: ['health'] }, config: { openapi: { responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } } },
    async (_req, reply) => {
      reply.header('content-type', deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
  );

  await app.register(detectRoute, {
    engine: deps.engine,
    admission,
    maxBytes: deps.maxBytes,
    maxPixels: deps.maxPixels,
    workerId: deps.workerId,
    notReady: () => {
      const v = deps.readiness();
      return v.ok ? undefined : v.reason ?? 'not ready';
    },
  });
  if (deps.runs) {
    await app.register(runsRoutes, { ...deps.runs, log: deps.log });
    if (deps.queuesBoard !== false) await queuesBoard(app, { queues: deps.runs.queues, readOnly: auth === undefined });
  }
  app.post(
    '/v1/session',
    {
      schema: { summary: `Let this browser open the queue board (${QUEUES_PATH}): with auth on, answers a cookie scoped to it`, tags: ['console'] },
      config: { openapi: { responses: { 204: { description: 'Done (a Set-Cookie header when auth is on)' }, 401: errorSchema } } },
    },
    async (req, reply) => {
      if (auth) reply.header('set-cookie', auth.boardCookie(QUEUES_PATH, 12 * 3600, overHttps(req)));
      reply.code(204).header('cache-control', 'no-store');
    },
  );
  if (deps.consoleDir) await app.register(consoleAssets, { dir: deps.consoleDir });
  app.get('/openapi.json', { config: { hidden: true } }, async () => openapi.document());
  await app.ready();
  return { app, admission, serveMetrics };
}

/**
 * True when the browser's page came over https: the connection is TLS, or the console's page has an
 * `https://` origin (a TLS-terminating proxy in front). `Origin` is set by the browser itself, not by
 * page scripts; `X-Forwarded-Proto` is not read, since no proxy is configured as trusted.
 */
function overHttps(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  return req.protocol === 'https' || (typeof origin === 'string' && origin.toLowerCase().startsWith('https://'));
}

function isBoardRoute(route: string | undefined): boolean {
  return route !== undefined && route.startsWith(`${QUEUES_PATH}/`);
}
