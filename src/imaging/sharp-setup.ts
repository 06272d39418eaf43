import sharp from 'sharp';

/**
 * libvips settings for decoding many different photos, applied when any decode path loads and again,
 * with the configured thread count, when a model loads (`decodeThreads`):
 *
 * - no operation cache: a worker never sees the same image twice, so sharp's default cache (up to
 *   50 MB and 20 open files) holds only garbage and adds to RSS;
 * - one libvips thread per image by default (`--decode-threads`, `FACEFLEET_DECODE_THREADS`): images
 *   already decode in parallel on the libuv pool while the inference thread runs, and on small
 *   machines more threads per image only contend with those and with onnxruntime. Measured with
 *   `facefleet bench` on 2 cores against 2 threads (sharp's default there, one per core;
 *   docs/benchmarks.md): in-process 32.4 vs 35.7 CPU ms per image, the pipeline level (40.1 vs 39.5).
 *
 * Imaging sits below the config, so the count applied before any model loads is the option's default
 * restated here; test/unit/sharp-setup.test.ts keeps the two equal.
 */
export function setupSharp(decodeThreads = 1): void {
  sharp.cache(false);
  sharp.concurrency(decodeThreads);
}

setupSharp();
