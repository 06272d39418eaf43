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

/** A stored failure reason split back into its parts. */
export interface ParsedReason {
  code: ErrorCode;
  message: string;
  /**
   * False for a reason that carries no known code (written by BullMQ itself, e.g. "job stalled more
   * than allowable limit", or by something other than a facefleet worker): its code is then `E_INTERNAL`.
   */
  coded: boolean;
}

/**
 * Splits a stored failure reason (`CODE: message`) back into its code and message. A reason without a
 * known code parses as `E_INTERNAL` (a failure nothing classified) with the whole reason as its message.
 */
export function parseReason(reason: string | undefined): ParsedReason {
  const match = /^(E_[A-Z_]+): ([\s\S]*)$/.exec(reason ?? '');
  if (match && isErrorCode(match[1])) return { code: match[1], message: match[2], coded: true };
  return { code: 'E_INTERNAL', message: reason ?? '', coded: false };
}

/** True for a FacefleetError whose kind is `permanent` or `fatal` (retrying cannot help). */
export function isPermanent(err: unknown): boolean {
  return err instanceof FacefleetError && err.kind !== 'transient';
}
