import sharp from 'sharp';

/**
 * libvips settings for decoding many different photos, applied once when any decode path loads:
 *
 * - no operation cache: a worker never sees the same image twice, so sharp's default cache (up to
 *   50 MB and 20 open files) holds only garbage and adds to RSS;
 * - one libvips thread per image (`FACEFLEET_DECODE_THREADS`, default 1): images already decode in
 *   parallel on the libuv pool while the inference thread runs, and on small machines more threads per
 *   image only contend with those and with onnxruntime. Measured with `facefleet bench` on 2 cores
 *   against `FACEFLEET_DECODE_THREADS=2` (sharp's default there, one per core; docs/benchmarks.md):
 *   in-process 32.4 vs 35.7 CPU ms per image, the pipeline level (40.1 vs 39.5).
 */
export function decodeThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FACEFLEET_DECODE_THREADS;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`FACEFLEET_DECODE_THREADS: expected an integer from 1 to 64, given ${JSON.stringify(raw)}`);
  return n;
}

let applied = false;

/** Applies the settings above (idempotent). */
export function setupSharp(): void {
  if (applied) return;
  applied = true;
  sharp.cache(false);
  sharp.concurrency(decodeThreads());
}

setupSharp();
