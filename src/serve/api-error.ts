import { ErrorCode, FacefleetError } from '../errors';

/**
 * Codes of HTTP answers that have no counterpart among the job failure codes: they describe the
 * request or the server, never an image. With `ERROR_CODES` this is every code facefleet uses.
 */
export const HTTP_ONLY_CODES = {
  /** The request itself is malformed: a bad query value, a missing body, two files. */
  E_BAD_REQUEST: 400,
  /** No or a wrong bearer token. */
  E_UNAUTHORIZED: 401,
  /** The `Host` header names a host this server does not answer to (DNS-rebinding guard). */
  E_MISDIRECTED: 421,
  /** The admission queue is full or the wait for a slot timed out. */
  E_OVERLOADED: 429,
  /** Starting, draining, or a dependency (Redis, the inference thread) is down. */
  E_NOT_READY: 503,
} as const;

/** A code an API error answer carries: a job failure code or an HTTP-only one. */
export type ApiErrorCode = ErrorCode | keyof typeof HTTP_ONLY_CODES;

/** HTTP status of each job failure code, when it reaches a caller through the API. */
const STATUS_OF_CODE: Record<ErrorCode, number> = {
  E_DECODE: 422,
  E_UNSUPPORTED_FORMAT: 415,
  E_TOO_LARGE: 413,
  E_NOT_FOUND: 404,
  E_BAD_KEY: 400,
  E_BAD_JOB: 400,
  E_STORAGE: 503,
  E_STORAGE_DENIED: 502,
  E_REDIS: 503,
  E_INFERENCE: 503,
  E_SHUTDOWN: 503,
  E_POISON: 422,
  E_INTERNAL: 500,
  E_CONFIG: 500,
  E_MODEL: 500,
  E_DEPENDENCY: 500,
};

/** The HTTP status answered for a code. */
export function statusOf(code: ApiErrorCode): number {
  return code in HTTP_ONLY_CODES ? HTTP_ONLY_CODES[code as keyof typeof HTTP_ONLY_CODES] : STATUS_OF_CODE[code as ErrorCode];
}

/**
 * An error answered as JSON `{ code, message }` with the status its code maps to, and a `Retry-After`
 * (seconds) when waiting can help (429, 503).
 */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly retryAfterS?: number;

  constructor(code: ApiErrorCode, message: string, options: { retryAfterS?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = statusOf(code);
    if (options.retryAfterS !== undefined) this.retryAfterS = options.retryAfterS;
  }
}

/** Fastify's and @fastify/multipart's own error codes, by what they mean for the caller. */
const FRAMEWORK_CODES: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'E_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'E_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'E_UNSUPPORTED_FORMAT',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'E_UNSUPPORTED_FORMAT',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'E_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'E_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'E_BAD_REQUEST',
  FST_ERR_VALIDATION: 'E_BAD_REQUEST',
  FST_FILES_LIMIT: 'E_BAD_REQUEST',
  FST_FIELDS_LIMIT: 'E_BAD_REQUEST',
  FST_PARTS_LIMIT: 'E_BAD_REQUEST',
  FST_PROTO_VIOLATION: 'E_BAD_REQUEST',
  FST_INVALID_JSON_FIELD_ERROR: 'E_BAD_REQUEST',
  FST_MP_PREMATURE_CLOSE: 'E_BAD_REQUEST',
};

/** Readable messages for framework errors whose own text is terse. */
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_FILES_LIMIT: 'send one file per request',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported Content-Type: send the image bytes as image/* or application/octet-stream, or one file as multipart/form-data',
};

/**
 * Converts anything thrown while handling a request into an {@link ApiError}: project errors keep their
 * code; Fastify's (body limits, content types, schema validation) and the multipart parser's are mapped
 * by their own `code`, never by message text; anything else is `E_INTERNAL` (a bug, logged by the server).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof FacefleetError) {
    // A bug's text is for the log (the server logs every E_INTERNAL with its stack), not for callers.
    if (err.code === 'E_INTERNAL') return new ApiError('E_INTERNAL', 'internal error', { cause: err });
    const retry = err.kind === 'transient' ? { retryAfterS: 1 } : {};
    return new ApiError(err.code, err.message, { ...retry, cause: err });
  }
  const e = err as { code?: unknown; message?: unknown; validation?: unknown; statusCode?: unknown };
  if (e && typeof e === 'object') {
    const fcode = typeof e.code === 'string' ? e.code : undefined;
    if (e.validation) return new ApiError('E_BAD_REQUEST', String(e.message), { cause: err });
    if (fcode && FRAMEWORK_CODES[fcode]) return new ApiError(FRAMEWORK_CODES[fcode], FRAMEWORK_MESSAGES[fcode] ?? String(e.message), { cause: err });
    // Other client errors Fastify raises itself (e.g. a malformed URL) keep their 4xx meaning.
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new ApiError('E_BAD_REQUEST', String(e.message), { cause: err });
  }
  return new ApiError('E_INTERNAL', 'internal error', { cause: err });
}
