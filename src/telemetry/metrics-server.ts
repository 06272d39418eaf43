import Fastify, { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { listenError } from '../errors';

/** A health verdict with the reason shown to the prober. */
export interface HealthVerdict {
  ok: boolean;
  reason?: string;
}

/** Settings of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The option that set the address, named when it cannot be bound. @defaultValue `metricsPort (--metrics-port)` */
  option?: string;
  registry: Registry;
  /** Liveness: is the process making progress? */
  liveness: () => HealthVerdict | Promise<HealthVerdict>;
  /** Readiness: model loaded, Redis reachable, not draining. */
  readiness: () => HealthVerdict | Promise<HealthVerdict>;
}

/**
 * Serves `/metrics`, `/healthz` and `/readyz` (Fastify: small, well kept, fast).
 * @throws FacefleetError `E_CONFIG` when the address cannot be bound (see `listenError`).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<{ server: FastifyInstance; port: number; close: () => Promise<void> }> {
  const server = Fastify({ logger: false });
  server.get('/metrics', async (_req, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  const probe = (check: () => HealthVerdict | Promise<HealthVerdict>) => async (_req: unknown, reply: { code: (n: number) => unknown }) => {
    const verdict = await check();
    reply.code(verdict.ok ? 200 : 503);
    return { status: verdict.ok ? 'ok' : 'fail', ...(verdict.reason ? { reason: verdict.reason } : {}) };
  };
  server.get('/healthz', probe(options.liveness));
  server.get('/readyz', probe(options.readiness));
  try {
    await server.listen({ host: options.host, port: options.port });
  } catch (err) {
    await server.close();
    throw listenError(err, options.option ?? 'metricsPort (--metrics-port)', options.host, options.port);
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { server, port, close: () => server.close() };
}
