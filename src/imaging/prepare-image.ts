import sharp from 'sharp';
import './sharp-setup';
import type { InputContract } from '../detectors/detector';
import type { PreparedImage } from './prepared-image';
import { FacefleetError } from '../errors';
import { letterboxImage, type LetterboxOptions } from './letterbox';
import { tileImage } from './tile-image';
import { planTiles, TilingOptions } from './tile-plan';
import { DEFAULT_DECODE_TIMEOUT_MS, ImageLimits, probeImage } from './probe-image';

/**
 * Turns encoded bytes into a model-ready canvas: the header probe classifies unsupported formats and
 * oversized images before any pixel is decoded; then sharp decodes (first frame only, shrink-on-load
 * for JPEG, `limitInputPixels` as a second guard), orients and letterboxes. Corrupt pixel data fails
 * with `E_DECODE`; a decode still running after `limits.decodeTimeoutMs` fails with `E_POISON` (never
 * retried) and libvips is told to stop, so one pathological file cannot hold a worker forever.
 *
 * With `tiling`, a photo large enough to gain from it also gets tiles (see `planTiles`): canvases of
 * the same size cut from one decode at a finer scale, so small faces keep enough pixels. `decode`
 * can make shrink-on-load cautious, to measure what the fast choice saves.
 */
export async function prepareImage(body: Buffer, contract: InputContract, limits: ImageLimits, tiling?: TilingOptions, decode: Pick<LetterboxOptions, 'fastShrinkOnLoad'> = {}): Promise<PreparedImage> {
  const timeoutMs = limits.decodeTimeoutMs ?? DEFAULT_DECODE_TIMEOUT_MS;
  const probe = await probeImage(body, limits);
  // libvips counts whole seconds; the timer below decides at the exact limit.
  const image = sharp(body, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1, sequentialRead: true }).timeout({ seconds: Math.max(1, Math.ceil(timeoutMs / 1000)) });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FacefleetError('E_POISON', `decoding ${probe.format} ${probe.width}×${probe.height} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  const started = performance.now();
  try {
    const plan = tiling && contract.width === contract.height ? planTiles(probe.width, probe.height, contract.width, tiling) : undefined;
    if (plan && plan.tiles.length > 0) {
      const { whole, tiles } = await Promise.race([tileImage(image, probe.width, probe.height, plan, contract, decode), late]);
      return { ...whole, format: probe.format, tiles };
    }
    const { pixels, letterbox } = await Promise.race([letterboxImage(image, contract, { ...decode, upright: probe }), late]);
    return { pixels, letterbox, format: probe.format };
  } catch (err) {
    // libvips' own timeout surfaces as a decode failure just after the limit.
    if (err instanceof FacefleetError && err.code === 'E_DECODE' && performance.now() - started >= timeoutMs) {
      throw new FacefleetError('E_POISON', `decoding ${probe.format} ${probe.width}×${probe.height} did not finish within ${timeoutMs} ms`, { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
