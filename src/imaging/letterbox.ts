import sharp from 'sharp';
import './sharp-setup';
import type { InputContract, Letterbox } from '../detectors/detector';
import { FacefleetError } from '../errors';

/** An image placed on a model's canvas. */
export interface LetterboxedImage {
  /** Canvas pixels, 8-bit RGB, row-major, `contract.width × contract.height × 3` bytes. */
  pixels: Uint8Array;
  /** How the upright original was placed on the canvas (to map boxes back). */
  letterbox: Letterbox;
}

/** How {@link letterboxImage} and `tileImage` decode. */
export interface LetterboxOptions {
  /**
   * The image's size after its EXIF orientation, when the caller has read the header already (it is
   * then not parsed again).
   */
  upright?: { width: number; height: number };
  /**
   * Let the decoder shrink by the largest factor the target size allows (JPEG DCT scaling by 2, 4 or
   * 8; WebP likewise: libvips' fast shrink-on-load). `false` keeps libvips' cautious choice, a factor
   * of 2 less, which decodes up to four times the pixels: only for measuring what the fast choice
   * saves. @defaultValue true
   */
  fastShrinkOnLoad?: boolean;
}

/**
 * Computes the placement of an upright `width × height` image on a `canvasWidth × canvasHeight`
 * canvas: scaled by the largest factor that fits, rounded to whole pixels, and centred (odd padding
 * puts the extra pixel on the right or bottom). Pure; {@link letterboxImage} uses it.
 */
export function fitLetterbox(width: number, height: number, canvasWidth: number, canvasHeight: number): Letterbox & {
  resizedWidth: number;
  resizedHeight: number;
} {
  const scale = Math.min(canvasWidth / width, canvasHeight / height);
  const resizedWidth = Math.min(canvasWidth, Math.max(1, Math.round(width * scale)));
  const resizedHeight = Math.min(canvasHeight, Math.max(1, Math.round(height * scale)));
  const padX = Math.floor((canvasWidth - resizedWidth) / 2);
  const padY = Math.floor((canvasHeight - resizedHeight) / 2);
  return { width, height, scale, padX, padY, resizedWidth, resizedHeight };
}

/**
 * Decodes an image, turns it upright from its EXIF orientation, scales it to fit the contract's canvas
 * keeping its aspect ratio, centres it, and fills the rest with `contract.padValue`. Transparency is
 * flattened onto the pad colour and greyscale or CMYK images become sRGB, so the result is always
 * 8-bit RGB of the canvas size.
 *
 * `input` is encoded bytes or a fresh `sharp` instance (to pass decode options such as
 * `limitInputPixels`); no other operation should be queued on it. Decode failures become
 * `FacefleetError('E_DECODE')`; classifying unsupported formats and sizes is the probe's job, before
 * this is called.
 */
export async function letterboxImage(input: sharp.Sharp | Buffer | Uint8Array, contract: InputContract, options: LetterboxOptions = {}): Promise<LetterboxedImage> {
  const { upright, fastShrinkOnLoad = true } = options;
  const { width: canvasW, height: canvasH } = contract;
  const background = { r: contract.padValue[0], g: contract.padValue[1], b: contract.padValue[2], alpha: 1 };
  try {
    // sharp() throws synchronously on an empty buffer, so it is created inside the try.
    const image = input instanceof Uint8Array ? sharp(input) : input;
    // The caller's probe already read the header: parse it once.
    const meta = upright ? undefined : await image.metadata();
    const width = upright?.width ?? meta?.autoOrient?.width ?? meta?.width;
    const height = upright?.height ?? meta?.autoOrient?.height ?? meta?.height;
    if (!width || !height) throw new FacefleetError('E_DECODE', 'the image declares no size');
    const fit = fitLetterbox(width, height, canvasW, canvasH);
    const { data, info } = await image
      .autoOrient()
      .flatten({ background })
      .resize(fit.resizedWidth, fit.resizedHeight, { fit: 'fill', fastShrinkOnLoad })
      .extend({
        top: fit.padY,
        bottom: canvasH - fit.resizedHeight - fit.padY,
        left: fit.padX,
        right: canvasW - fit.resizedWidth - fit.padX,
        background,
      })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== canvasW || info.height !== canvasH || info.channels !== 3) {
      throw new FacefleetError('E_DECODE', `letterbox produced ${info.width}×${info.height}×${info.channels}, expected ${canvasW}×${canvasH}×3`);
    }
    const letterbox: Letterbox = { width, height, scale: fit.scale, padX: fit.padX, padY: fit.padY };
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), letterbox };
  } catch (err) {
    if (err instanceof FacefleetError) throw err;
    throw new FacefleetError('E_DECODE', 'the image cannot be decoded', { cause: err });
  }
}
