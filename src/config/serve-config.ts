import os from 'node:os';
import { z } from 'zod';
import { allowedLocationsField, LOG_OPTIONS, MODEL_OPTIONS, QUEUE_OPTIONS, queueLayoutProblems, RETENTION_OPTIONS, RUN_OPTIONS } from './common';
import { ConfigOf, defineOptions } from './option-spec';
import { bool, configError, Env, int, parseConfig, sourceOf, withSources } from './parse';

/** The environment variable holding the API token. */
export const API_TOKEN_ENV = 'FACEFLEET_API_TOKEN';

/** The options `facefleet serve` adds to the queue, model and log options. */
export const SERVE_OWN_OPTIONS = defineOptions({
  /** Address the HTTP server binds. Loopback by default; anything else without a token prints a warning. @defaultValue `127.0.0.1` (env `FACEFLEET_SERVE_HOST`) */
  host: {
    flag: '--host <addr>',
    env: 'FACEFLEET_SERVE_HOST',
    default: '127.0.0.1',
    help: `address to bind (non-loopback without ${API_TOKEN_ENV} prints a warning)`,
    doc: 'address to bind',
    schema: z.string().min(1),
  },
  /** TCP port; 0 picks a free one. @defaultValue 8080 (env `FACEFLEET_SERVE_PORT`) */
  port: { flag: '--port <port>', env: 'FACEFLEET_SERVE_PORT', default: 8080, help: 'TCP port (0 = any free port)', doc: 'port (`0`: any free one)', schema: int(0, 65535) },
  /**
   * Detection requests admitted at once (decoding, waiting for a batch, inference). Their bodies are
   * read only once admitted, so memory stays below about `maxInFlight × maxImageMb`.
   * @defaultValue 64 (env `FACEFLEET_SERVE_MAX_IN_FLIGHT`)
   */
  maxInFlight: { flag: '--max-in-flight <n>', env: 'FACEFLEET_SERVE_MAX_IN_FLIGHT', default: 64, help: 'detection requests admitted at once', schema: int(1, 10_000) },
  /** Detection requests allowed to wait for admission; beyond that, 429. @defaultValue 64 (env `FACEFLEET_SERVE_MAX_QUEUE`) */
  maxQueue: {
    flag: '--max-queue <n>',
    env: 'FACEFLEET_SERVE_MAX_QUEUE',
    default: 64,
    help: 'detection requests waiting for admission before 429',
    doc: 'requests waiting for admission before `429`',
    schema: int(0, 100_000),
  },
  /** How long a request may wait for admission before a 429, ms. @defaultValue 5000 (env `FACEFLEET_SERVE_QUEUE_TIMEOUT_MS`) */
  queueTimeoutMs: {
    flag: '--queue-timeout-ms <ms>',
    env: 'FACEFLEET_SERVE_QUEUE_TIMEOUT_MS',
    default: 5_000,
    unit: 'ms',
    help: 'longest wait for admission before 429',
    doc: 'longest wait for admission',
    schema: int(1, 600_000),
  },
  /**
   * Location URL prefixes that `POST /v1/jobs` may read from and write to, and that the console may
   * show images from, comma-separated. They match whole path segments and exact bucket names:
   * `s3://photos` does not allow `s3://photos-private`, `file:///srv/out` does not allow
   * `file:///srv/out-evil`. Empty: any bucket, and no `file://` location (a `file:///DIR` entry opens a
   * folder). @defaultValue none (env `FACEFLEET_SERVE_ALLOWED_LOCATIONS`)
   */
  allowedLocations: {
    flag: '--allowed-locations <list>',
    env: 'FACEFLEET_SERVE_ALLOWED_LOCATIONS',
    default: '',
    defaultText: 'any bucket; file:// off',
    help: 'comma-separated locations POST /v1/jobs, results and previews may use',
    doc:
      'locations `/v1/jobs`, results and previews may use: buckets, key prefixes or folders, matched by exact bucket name and whole path segments (`s3://photos` does not allow `s3://photos-private`); `file://` needs a `file:///DIR` entry here, and once any entry is given only the listed locations are allowed',
    schema: allowedLocationsField(),
  },
  /**
   * `Host` names requests may carry, comma-separated, port ignored; `*` accepts any. Always allowed:
   * `localhost`, `127.0.0.1`, `[::1]` and the `host` bound (with a wildcard bind such as `0.0.0.0`, also
   * this machine's host name and interface addresses). Any other `Host` answers 421 `E_MISDIRECTED`, so a
   * web page that rebinds its DNS name to this server cannot drive it. Name here what clients use: a
   * Service or ingress name, a load balancer's address. @defaultValue none beyond the above (env
   * `FACEFLEET_SERVE_ALLOWED_HOSTS`)
   */
  allowedHosts: {
    flag: '--allowed-hosts <list>',
    env: 'FACEFLEET_SERVE_ALLOWED_HOSTS',
    default: '',
    defaultText: 'loopback names and the bound address',
    help: 'comma-separated Host names accepted besides loopback and the bound address (* = any); others answer 421',
    doc: 'further `Host` names answered, comma-separated, port ignored; `*`: any',
    schema: z
      .string()
      .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p !== ''))
      .pipe(z.array(z.string().regex(/^(\*|[A-Za-z0-9_.-]+|\[?[0-9A-Fa-f:.]+\]?)$/, 'expected host names or addresses without scheme or port, or *'))),
  },
  /** Longest time to receive a request's headers, ms; a slower client is disconnected. @defaultValue 10000 (env `FACEFLEET_SERVE_HEADERS_TIMEOUT_MS`) */
  headersTimeoutMs: {
    flag: '--headers-timeout-ms <ms>',
    env: 'FACEFLEET_SERVE_HEADERS_TIMEOUT_MS',
    default: 10_000,
    unit: 'ms',
    help: 'longest time to receive request headers',
    doc: 'longest time to receive the request headers',
    schema: int(100, 600_000),
  },
  /**
   * Longest time to receive a whole request, headers and body, counted from its first byte, ms (the
   * wait for admission included, since a body is read only once admitted). A slower upload is cut with
   * 408 and frees its admission slot, so slow senders cannot hold every slot. Must exceed
   * `queueTimeoutMs` and `headersTimeoutMs`. @defaultValue 60000 (env `FACEFLEET_SERVE_REQUEST_TIMEOUT_MS`)
   */
  requestTimeoutMs: {
    flag: '--request-timeout-ms <ms>',
    env: 'FACEFLEET_SERVE_REQUEST_TIMEOUT_MS',
    default: 60_000,
    unit: 'ms',
    help: 'longest time to receive a whole request, body included (slower uploads are cut with 408)',
    doc: 'longest time to receive a whole request, admission wait and body included (`408`); must exceed `--queue-timeout-ms`',
    schema: int(100, 3_600_000),
  },
  /** How long an idle keep-alive connection stays open, ms. @defaultValue 5000 (env `FACEFLEET_SERVE_KEEP_ALIVE_TIMEOUT_MS`) */
  keepAliveTimeoutMs: {
    flag: '--keep-alive-timeout-ms <ms>',
    env: 'FACEFLEET_SERVE_KEEP_ALIVE_TIMEOUT_MS',
    default: 5_000,
    unit: 'ms',
    help: 'how long an idle keep-alive connection stays open',
    doc: 'idle keep-alive connections close after this',
    schema: int(100, 600_000),
  },
  /** Days a run record made by `POST /v1/jobs` is kept after its last change. @defaultValue 30 (env `FACEFLEET_RUN_TTL_DAYS`) */
  runTtlDays: {
    ...RUN_OPTIONS.runTtlDays,
    help: 'days a run record made by POST /v1/jobs is kept after its last change',
    doc: 'run records made by `POST /v1/jobs` expire this long after their last change',
  },
  /** Serve the web console at `/`. @defaultValue true (env `FACEFLEET_SERVE_CONSOLE`) */
  console: {
    flag: '--no-console',
    env: 'FACEFLEET_SERVE_CONSOLE',
    default: true,
    defaultText: 'console on',
    help: 'do not serve the web console at /',
    doc: 'leave the web console out (`FACEFLEET_SERVE_CONSOLE=0` does the same)',
    schema: bool(),
  },
  /** Shutdown deadline, ms (keep below the pod grace period). @defaultValue 25000 (env `FACEFLEET_DRAIN_TIMEOUT_MS`) */
  drainTimeoutMs: { flag: '--drain-timeout-ms <ms>', env: 'FACEFLEET_DRAIN_TIMEOUT_MS', default: 25_000, unit: 'ms', help: 'shutdown deadline', schema: int(1000, 3_600_000) },
  /** Server id written as `worker` into results. @defaultValue `<hostname>-<pid>` (env `FACEFLEET_WORKER_ID`) */
  workerId: {
    flag: '--worker-id <id>',
    env: 'FACEFLEET_WORKER_ID',
    default: () => `${os.hostname()}-${process.pid}`,
    defaultText: '<hostname>-<pid>',
    help: 'server id written as worker into results and logs',
    schema: z.string().min(1).max(200),
  },
  /** Retry attempts of jobs enqueued through `POST /v1/jobs`. @defaultValue 5 (env `FACEFLEET_ATTEMPTS`) */
  attempts: { flag: '--attempts <n>', env: 'FACEFLEET_ATTEMPTS', default: 5, help: 'attempts of jobs enqueued by POST /v1/jobs', schema: int(1, 100) },
  /** Completed jobs kept per shard of jobs enqueued through `POST /v1/jobs`. @defaultValue 1000 (env `FACEFLEET_KEEP_COMPLETED`) */
  keepCompleted: { ...RETENTION_OPTIONS.keepCompleted, help: 'completed jobs of POST /v1/jobs kept per shard (0 removes each at once)' },
  /** `POST /v1/jobs` waits while the queue holds more unfinished jobs than this. @defaultValue 100000 (env `FACEFLEET_MAX_BACKLOG`) */
  maxBacklog: {
    flag: '--max-backlog <n>',
    env: 'FACEFLEET_MAX_BACKLOG',
    default: 100_000,
    help: 'POST /v1/jobs waits while the queue holds more unfinished jobs than this',
    schema: int(1, 100_000_000),
  },
  /**
   * Bearer token every route except `/healthz`, `/readyz` and the console's static files requires.
   * Read from the environment only, so it never shows in a process listing; at least 16 characters.
   * Unset or empty: no authentication. (env `FACEFLEET_API_TOKEN`)
   */
  apiToken: {
    env: API_TOKEN_ENV,
    defaultText: 'none: no authentication',
    help: 'bearer token of every route but the probes and the console files (16+ characters)',
    schema: z.string().refine((t) => t.length >= 16 && t.length <= 4096 && !/\s/.test(t), { message: 'expected 16 to 4096 characters without spaces' }),
    secret: true,
  },
});

/** The options of `facefleet serve`, each declared once (flags, README table and parsing come from here). */
export const SERVE_OPTIONS = defineOptions({ ...QUEUE_OPTIONS, ...MODEL_OPTIONS, ...SERVE_OWN_OPTIONS, ...LOG_OPTIONS });

/** `facefleet serve` settings, validated and frozen. */
export type ServeConfig = ConfigOf<typeof SERVE_OPTIONS> & {
  /** Largest request body accepted, bytes (from `maxImageMb`). */
  maxBytes: number;
  /** Largest decoded image accepted, pixels (from `maxMegapixels`). */
  maxPixels: number;
  /** True when `host` is a loopback address. */
  loopback: boolean;
};

/**
 * Builds the serve config from flags and environment; throws `E_CONFIG` naming every bad field. The
 * token is read from the environment only, and no message ever repeats it.
 */
export function loadServeConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<ServeConfig> {
  const parsed = parseConfig(SERVE_OPTIONS, flags, env);
  const from = (key: keyof typeof SERVE_OPTIONS & string) => sourceOf(SERVE_OPTIONS, key, flags, env);
  const order: string[] = [];
  if (parsed.requestTimeoutMs <= parsed.queueTimeoutMs) order.push(`requestTimeoutMs (${from('requestTimeoutMs')}): expected more than queueTimeoutMs (${parsed.queueTimeoutMs}, ${from('queueTimeoutMs')}), since a body is read only once admitted; given ${parsed.requestTimeoutMs}`);
  if (parsed.headersTimeoutMs > parsed.requestTimeoutMs) order.push(`headersTimeoutMs (${from('headersTimeoutMs')}): expected at most requestTimeoutMs (${parsed.requestTimeoutMs}, ${from('requestTimeoutMs')}); given ${parsed.headersTimeoutMs}`);
  order.push(...queueLayoutProblems(parsed, from));
  if (order.length > 0) throw configError(order);
  const config = Object.freeze({
    ...parsed,
    maxBytes: Math.round(parsed.maxImageMb * 1024 * 1024),
    maxPixels: Math.round(parsed.maxMegapixels * 1e6),
    loopback: isLoopbackHost(parsed.host),
  });
  return withSources(config, parsed);
}

/** True for `localhost`, `127.0.0.0/8` and `::1` (the addresses only this machine can reach). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
