import { FacefleetError } from '../../src/errors';

/**
 * The `code` of the `FacefleetError` a function throws or a promise rejects with, undefined when it
 * succeeds, and `not a FacefleetError: …` for anything else (so a test expecting a code fails on it).
 */
export function codeOf(fn: () => unknown): string | undefined;
export function codeOf(promise: Promise<unknown>): Promise<string | undefined>;
export function codeOf(target: (() => unknown) | Promise<unknown>): string | undefined | Promise<string | undefined> {
  const code = (err: unknown): string => (err instanceof FacefleetError ? err.code : `not a FacefleetError: ${String(err)}`);
  if (typeof target === 'function') {
    try {
      target();
      return undefined;
    } catch (err) {
      return code(err);
    }
  }
  return target.then(() => undefined, code);
}
