/**
 * The fixed set of failure reason codes. Each code is a stable string that appears in failed jobs'
 * reasons, in result files of failed images, in logs, in the start-failure line of a command and as the
 * `code` label of `facefleet_job_failures_total`, so the set is small and closed: an error nothing
 * classified is `E_INTERNAL` (see `classify`), never a code outside this table. The HTTP API adds a few
 * codes about requests (`HTTP_ONLY_CODES` in `src/serve/api-error.ts`), never about images.
 */
export const ERROR_CODES = {
  /** The bytes are in an allowed format but cannot be decoded (truncated, corrupt). */
  E_DECODE: 'permanent',
  /** The bytes are not an image, or an image format outside the allow-list. */
  E_UNSUPPORTED_FORMAT: 'permanent',
  /** The object or its declared pixel count exceeds the configured limits. */
  E_TOO_LARGE: 'permanent',
  /** The object (or its bucket) does not exist, or the file is not a regular file (FIFO, device, socket, folder). */
  E_NOT_FOUND: 'permanent',
  /**
   * The key or location URL is malformed or unsafe (`..` segments, leading `/`, control characters),
   * outside the allowed locations, or names an object that is not a facefleet result where the result goes.
   */
  E_BAD_KEY: 'permanent',
  /** The job payload does not match the job contract. */
  E_BAD_JOB: 'permanent',
  /** Storage failed in a way a retry may fix (5xx, throttling, timeouts, connection errors). */
  E_STORAGE: 'transient',
  /** The storage refused access (credentials, permissions); a retry will not help. */
  E_STORAGE_DENIED: 'permanent',
  /** Redis failed while a run record was written or read (connection lost, timeout, an error reply); a retry may fix it. */
  E_REDIS: 'transient',
  /** The inference session failed on a batch. */
  E_INFERENCE: 'transient',
  /** The worker was shutting down; the job goes back to the queue. */
  E_SHUTDOWN: 'transient',
  /** Quarantined: decoding hung past its time limit, or workers holding the job kept dying; never retried. */
  E_POISON: 'permanent',
  /**
   * A bug: an error that nothing classified. A job fails at once without a retry (it would fail the same
   * way) and the error is logged with its stack; a command exits 1.
   */
  E_INTERNAL: 'permanent',
  /** Invalid configuration; the process must not start. */
  E_CONFIG: 'fatal',
  /** The model is missing, fails its integrity check or has the wrong shape; the process must not start. */
  E_MODEL: 'fatal',
  /**
   * A program the command starts itself is missing or did not start (`redis-server` for the demo's
   * private Redis; `versitygw` and the worker processes of the chaos suite): install it, or point the
   * command at a running one.
   */
  E_DEPENDENCY: 'fatal',
} as const;

/** A stable failure reason code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** What should happen next after an error: retry (transient), fail the job (permanent) or stop the process (fatal). */
export type ErrorKind = (typeof ERROR_CODES)[ErrorCode];

/** Every code, in declaration order (used to pre-create metric series). */
export const ALL_ERROR_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** True when `value` is one of the known codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
