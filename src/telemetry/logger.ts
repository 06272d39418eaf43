import pino, { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level. @defaultValue `info` (env `FACEFLEET_LOG_LEVEL`) */
  level?: string;
  /** Extra fields bound to every line (e.g. worker id). */
  base?: Record<string, unknown>;
  /** File descriptor to write to. @defaultValue 2 (stderr, so stdout stays free for `--json` output) */
  fd?: number;
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
];

/** The project's JSON logger: pino, one line per event, secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.FACEFLEET_LOG_LEVEL ?? 'info',
      base: { pid: process.pid, ...options.base },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: options.fd ?? 2, sync: false }),
  );
}

/** Removes the password from a Redis URL for display. */
export function safeRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, (_m, user: string) => `//${user}:***@`);
}
