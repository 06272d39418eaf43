import os from 'node:os';
import { z } from 'zod';
import { FacefleetError } from '../errors';
import { allowedLocationsField, commonEnv, modelFields, queueFields, runFields } from './common';
import { bool, int, parseConfig } from './parse';

const serveSchema = z.object({
  ...queueFields,
  ...modelFields,
  ...runFields,
  /** Address the HTTP server binds. Loopback by default; anything else without a token prints a warning. @defaultValue `127.0.0.1` (env `FACEFLEET_SERVE_HOST`) */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP port; 0 picks a free one. @defaultValue 8080 (env `FACEFLEET_SERVE_PORT`) */
  port: int(0, 65535).default(8080),
  /**
   * Detection requests admitted at once (decoding, waiting for a batch, inference). Their bodies are
   * read only once admitted, so memory stays below about `maxInFlight × maxImageMb`.
   * @defaultValue 64 (env `FACEFLEET_SERVE_MAX_IN_FLIGHT`)
   */
  maxInFlight: int(1, 10_000).default(64),
  /** Detection requests allowed to wait for admission; beyond that, 429. @defaultValue 64 (env `FACEFLEET_SERVE_MAX_QUEUE`) */
  maxQueue: int(0, 100_000).default(64),
  /** How long a request may wait for admission before a 429, ms. @defaultValue 5000 (env `FACEFLEET_SERVE_QUEUE_TIMEOUT_MS`) */
  queueTimeoutMs: int(1, 600_000).default(5_000),
  /** Shutdown deadline, ms (keep below the pod grace period). @defaultValue 25000 (env `FACEFLEET_DRAIN_TIMEOUT_MS`) */
  drainTimeoutMs: int(1000, 3_600_000).default(25_000),
  /** Server id written as `worker` into results. @defaultValue `<hostname>-<pid>` (env `FACEFLEET_WORKER_ID`) */
  workerId: z.string().min(1).max(200).default(`${os.hostname()}-${process.pid}`),
  /**
   * Location URL prefixes that `POST /v1/jobs` may read from and write to, and that the console may
   * show images from, comma-separated. They match whole path segments and exact bucket names:
   * `s3://photos` does not allow `s3://photos-private`, `file:///srv/out` does not allow
   * `file:///srv/out-evil`. Empty: any bucket, and no `file://` location (a `file:///DIR` entry opens a
   * folder). (env `FACEFLEET_SERVE_ALLOWED_LOCATIONS`)
   */
  allowedLocations: allowedLocationsField(),
  /**
   * `Host` names requests may carry, comma-separated, port ignored; `*` accepts any. Always allowed:
   * `localhost`, `127.0.0.1`, `[::1]` and the `host` bound (with a wildcard bind such as `0.0.0.0`, also
   * this machine's host name and interface addresses). Any other `Host` answers 421 `E_MISDIRECTED`, so a
   * web page that rebinds its DNS name to this server cannot drive it. Name here what clients use: a
   * Service or ingress name, a load balancer's address. @defaultValue none beyond the above (env
   * `FACEFLEET_SERVE_ALLOWED_HOSTS`)
   */
  allowedHosts: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p !== ''))
    .pipe(z.array(z.string().regex(/^(\*|[A-Za-z0-9_.-]+|\[?[0-9A-Fa-f:.]+\]?)$/, 'expected host names or addresses without scheme or port, or *'))),
  /**
   * Longest time to receive a request's headers, ms; a slower client is disconnected.
   * @defaultValue 10000 (env `FACEFLEET_SERVE_HEADERS_TIMEOUT_MS`)
   */
  headersTimeoutMs: int(100, 600_000).default(10_000),
  /**
   * Longest time to receive a whole request, headers and body, counted from its first byte, ms (the
   * wait for admission included, since a body is read only once admitted). A slower upload is cut with
   * 408 and frees its admission slot, so slow senders cannot hold every slot. Must exceed
   * `queueTimeoutMs` and `headersTimeoutMs`. @defaultValue 60000 (env `FACEFLEET_SERVE_REQUEST_TIMEOUT_MS`)
   */
  requestTimeoutMs: int(100, 3_600_000).default(60_000),
  /** How long an idle keep-alive connection stays open, ms. @defaultValue 5000 (env `FACEFLEET_SERVE_KEEP_ALIVE_TIMEOUT_MS`) */
  keepAliveTimeoutMs: int(100, 600_000).default(5_000),
  /** Serve the web console at `/`. @defaultValue true (env `FACEFLEET_SERVE_CONSOLE`) */
  console: bool().default(true),
  /** Retry attempts of jobs enqueued through `POST /v1/jobs`. @defaultValue 5 (env `FACEFLEET_ATTEMPTS`) */
  attempts: int(1, 100).default(5),
  /** `POST /v1/jobs` waits while the queue holds more unfinished jobs than this. @defaultValue 100000 (env `FACEFLEET_MAX_BACKLOG`) */
  maxBacklog: int(1, 100_000_000).default(100_000),
});

/** `facefleet serve` settings, validated and frozen. */
export type ServeConfig = z.output<typeof serveSchema> & {
  /**
   * Bearer token every route except `/healthz`, `/readyz` and the console's static files requires.
   * Read from the environment only (`FACEFLEET_API_TOKEN`), so it never shows in a process listing;
   * at least 16 characters. Unset or empty: no authentication.
   */
  apiToken?: string;
  /** Largest request body accepted, bytes (from `maxImageMb`). */
  maxBytes: number;
  /** Largest decoded image accepted, pixels (from `maxMegapixels`). */
  maxPixels: number;
  /** True when `host` is a loopback address. */
  loopback: boolean;
};

/** The environment variable holding the API token. */
export const API_TOKEN_ENV = 'FACEFLEET_API_TOKEN';

/** Environment names of the serve fields (the token, read apart, is in {@link API_TOKEN_ENV}). */
export const SERVE_ENV = {
  ...commonEnv,
  host: 'FACEFLEET_SERVE_HOST',
  port: 'FACEFLEET_SERVE_PORT',
  maxInFlight: 'FACEFLEET_SERVE_MAX_IN_FLIGHT',
  maxQueue: 'FACEFLEET_SERVE_MAX_QUEUE',
  queueTimeoutMs: 'FACEFLEET_SERVE_QUEUE_TIMEOUT_MS',
  drainTimeoutMs: 'FACEFLEET_DRAIN_TIMEOUT_MS',
  workerId: 'FACEFLEET_WORKER_ID',
  allowedLocations: 'FACEFLEET_SERVE_ALLOWED_LOCATIONS',
  allowedHosts: 'FACEFLEET_SERVE_ALLOWED_HOSTS',
  runTtlDays: 'FACEFLEET_RUN_TTL_DAYS',
  headersTimeoutMs: 'FACEFLEET_SERVE_HEADERS_TIMEOUT_MS',
  requestTimeoutMs: 'FACEFLEET_SERVE_REQUEST_TIMEOUT_MS',
  keepAliveTimeoutMs: 'FACEFLEET_SERVE_KEEP_ALIVE_TIMEOUT_MS',
  console: 'FACEFLEET_SERVE_CONSOLE',
  attempts: 'FACEFLEET_ATTEMPTS',
  maxBacklog: 'FACEFLEET_MAX_BACKLOG',
} as const;

/**
 * Builds the serve config from flags and environment; throws `E_CONFIG` naming every bad field. The
 * token is read from the environment only and checked apart, so no message ever repeats it.
 */
export function loadServeConfig(flags: Record<string, unknown>, env: Record<string, string | undefined> = process.env): Readonly<ServeConfig> {
  const parsed = parseConfig(serveSchema, flags, env, SERVE_ENV);
  const token = env[API_TOKEN_ENV] ?? '';
  if (token !== '' && (token.length < 16 || token.length > 4096 || /\s/.test(token))) {
    throw new FacefleetError('E_CONFIG', `invalid configuration:\n  apiToken (env ${API_TOKEN_ENV}): expected 16 to 4096 characters without spaces; given ${token.length} characters (value not shown)`);
  }
  const order: string[] = [];
  if (parsed.requestTimeoutMs <= parsed.queueTimeoutMs) order.push(`requestTimeoutMs (env ${SERVE_ENV.requestTimeoutMs}): expected more than queueTimeoutMs (${parsed.queueTimeoutMs}), since a body is read only once admitted; given ${parsed.requestTimeoutMs}`);
  if (parsed.headersTimeoutMs > parsed.requestTimeoutMs) order.push(`headersTimeoutMs (env ${SERVE_ENV.headersTimeoutMs}): expected at most requestTimeoutMs (${parsed.requestTimeoutMs}); given ${parsed.headersTimeoutMs}`);
  if (order.length > 0) throw new FacefleetError('E_CONFIG', `invalid configuration:\n  ${order.join('\n  ')}`);
  return Object.freeze({
    ...parsed,
    ...(token !== '' ? { apiToken: token } : {}),
    maxBytes: Math.round(parsed.maxImageMb * 1024 * 1024),
    maxPixels: Math.round(parsed.maxMegapixels * 1e6),
    loopback: isLoopbackHost(parsed.host),
  });
}

/** True for `localhost`, `127.0.0.0/8` and `::1` (the addresses only this machine can reach). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
