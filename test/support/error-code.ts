import { FacefleetError } from '../../src/errors';

/**
 * The `code` of what a function throws or a promise rejects with (`FacefleetError` or any error
 * carrying a string `code`), or undefined when it succeeds.
 */
export function codeOf(fn: () => unknown): string | undefined;
export function codeOf(promise: Promise<unknown>): Promise<string | undefined>;
export function codeOf(target: (() => unknown) | Promise<unknown>): string | undefined | Promise<string | undefined> {
  const code = (err: unknown): string => (err instanceof FacefleetError ? err.code : String((err as { code?: unknown })?.code ?? `not coded: ${String(err)}`));
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
