import pino, { DestinationStream, Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level; commands pass their `logLevel` option (`--log-level`, `FACEFLEET_LOG_LEVEL`). @defaultValue `info` */
  level?: string;
  /** Extra fields bound to every line (e.g. worker id). */
  base?: Record<string, unknown>;
  /** File descriptor to write to. @defaultValue 2 (stderr, so stdout stays free for `--json` output) */
  fd?: number;
  /** A stream to write to instead of `fd` (tests). */
  destination?: DestinationStream;
}

/** Paths redacted from every log line: credentials and anything that may carry a signed URL. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'redisUrl',
  '*.redisUrl',
  'token',
  '*.token',
  // ioredis attaches the failed command to its errors: a refused HELLO/AUTH carries the password.
  'command.args',
  '*.command.args',
];

/**
 * The project's JSON logger: pino, one line per event. Secrets are removed twice: fields by name
 * ({@link REDACT_PATHS}), and credentials inside any logged string — messages, error messages and
 * field values — by {@link scrubSecrets} (passwords in connection URLs, signed URLs' query strings).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: (fields) => scrubSecrets(fields) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination({ fd: options.fd ?? 2, sync: false }),
  );
}

/** Query parameters that make a URL a bearer credential (S3/GCS/Azure presigned URLs). */
const SIGNED_QUERY = /([a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>]+)\?[^\s#"'<>]*\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|Signature|sig|AWSAccessKeyId)=[^\s#"'<>]*/gi;
/** `scheme://user:password@` in connection URLs. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:@/\s"']*):[^@/\s"']+@/gi;

/**
 * Removes credentials from strings anywhere in a value: passwords in connection URLs become `***`,
 * signed URLs lose their query string. Errors are copied (same class) with scrubbed message, stack,
 * cause and fields. Returns new objects; the input is not modified.
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(SIGNED_QUERY, '$1?[redacted]').replace(URL_PASSWORD, '$1:***@');
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    // A copy of the same class, so pino's error serializer still reports its type.
    const copy = Object.create(Object.getPrototypeOf(value)) as Error;
    for (const [k, v] of Object.entries(value)) (copy as unknown as Record<string, unknown>)[k] = scrubSecrets(v, depth + 1);
    Object.defineProperty(copy, 'message', { value: scrubSecrets(value.message), enumerable: false, writable: true });
    Object.defineProperty(copy, 'stack', { value: scrubSecrets(value.stack), enumerable: false, writable: true });
    if (value.cause !== undefined) Object.defineProperty(copy, 'cause', { value: scrubSecrets(value.cause, depth + 1), enumerable: false, writable: true });
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1));
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubSecrets(v, depth + 1);
  return out;
}

/** Removes the password from a Redis URL for display. */
export function safeRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, (_m, user: string) => `//${user}:***@`);
}
