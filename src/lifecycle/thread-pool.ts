import { usableCores } from '../host/cpu-quota';

/**
 * Threads libuv's pool gets beyond one per core. Decodes and file reads share the pool; the engine
 * runs at most one decode per core (`decodeSlots`), so the extra threads always leave room for reads
 * and writes.
 */
export const SPARE_POOL_THREADS = 4;

/**
 * Sizes libuv's thread pool for facefleet (usable cores, {@link usableCores}, + {@link SPARE_POOL_THREADS}) unless the operator
 * set `UV_THREADPOOL_SIZE`. libuv reads the variable when the pool first starts, so every entry point
 * calls this before anything reads a file, resolves a name or decodes. Returns the size in effect.
 */
export function sizeThreadPool(env: NodeJS.ProcessEnv = process.env): number {
  env.UV_THREADPOOL_SIZE ||= String(usableCores() + SPARE_POOL_THREADS);
  return Number(env.UV_THREADPOOL_SIZE);
}
