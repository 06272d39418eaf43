/**
 * Polls `probe` every `intervalMs` until it returns something other than `undefined`, and resolves
 * with that. After `timeoutMs` it throws, naming what was awaited (`what` as a string) or describing
 * the state seen last (`what` as a function).
 */
export async function pollUntil<T>(what: string | (() => string | Promise<string>), probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(typeof what === 'string' ? `timed out after ${timeoutMs} ms waiting for ${what}` : `not reached within ${timeoutMs} ms: ${await what()}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
