import { ERROR_CODES, ErrorCode, ErrorKind, isErrorCode } from './codes';

/**
 * The base error of the project: a stable `code`, the `kind` that decides what happens next, and an
 * optional `cause` (the third-party error it was converted from, at the adapter that called it).
 */
export class FacefleetError extends Error {
  /** Stable reason code, e.g. `E_DECODE`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FacefleetError';
    this.code = code;
  }

  /** transient → retry with backoff; permanent → fail this job only; fatal → stop the process. */
  get kind(): ErrorKind {
    return ERROR_CODES[this.code];
  }

  /** The form stored as a failed job's reason: `CODE: message`, parsable by {@link parseReason}. */
  toReason(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** Splits a stored failure reason (`CODE: message`) back into its code and message. */
export function parseReason(reason: string | undefined): { code: ErrorCode | 'E_UNKNOWN'; message: string } {
  const match = /^(E_[A-Z_]+): ([\s\S]*)$/.exec(reason ?? '');
  if (match && isErrorCode(match[1])) return { code: match[1], message: match[2] };
  return { code: 'E_UNKNOWN', message: reason ?? '' };
}

/** True for a FacefleetError whose kind is `permanent` or `fatal` (retrying cannot help). */
export function isPermanent(err: unknown): boolean {
  return err instanceof FacefleetError && err.kind !== 'transient';
}
