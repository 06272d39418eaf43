import sharp from 'sharp';
import type { InputContract } from '../detectors/detector';
import type { PreparedImage } from '../engine/detection-engine';
import { letterboxImage } from './letterbox';
import { ImageLimits, probeImage } from './probe-image';

/**
 * Turns encoded bytes into a model-ready canvas: the header probe classifies unsupported formats and
 * oversized images before any pixel is decoded; then sharp decodes (first frame only, shrink-on-load
 * for JPEG, `limitInputPixels` as a second guard), orients and letterboxes. Corrupt pixel data fails
 * with `E_DECODE`.
 */
export async function prepareImage(body: Buffer, contract: InputContract, limits: ImageLimits): Promise<PreparedImage> {
  const probe = await probeImage(body, limits);
  const image = sharp(body, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1, sequentialRead: true });
  const { pixels, letterbox } = await letterboxImage(image, contract);
  return { pixels, letterbox, format: probe.format };
}
