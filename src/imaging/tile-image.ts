import sharp from 'sharp';
import './sharp-setup';
import type { InputContract, Letterbox } from '../detectors/detector';
import { FacefleetError } from '../errors';
import { fitLetterbox, LetterboxedImage, type LetterboxOptions } from './letterbox';
import type { Tile, TilePlan } from './tile-plan';

/** One tile's canvas and where it sits in the original image. */
export interface TileView extends LetterboxedImage {
  /** The tile's window in original pixels `[x1, y1, x2, y2]`. */
  window: [number, number, number, number];
  /** Which window sides are inside the image. */
  inner: Tile['inner'];
}

/** The whole-image view and the tiles of one decode. */
export interface TiledImage {
  whole: LetterboxedImage;
  tiles: TileView[];
}

/**
 * Decodes once at the plan's scale (oriented, flattened, sRGB), then cuts every tile out of that
 * buffer onto a canvas (padding where the image ends) and scales the same buffer down to the
 * letterboxed whole-image view. A tile's letterbox has negative padding: canvas point (cx, cy) maps to
 * ((cx + x) / scale, (cy + y) / scale), so detectors undo it as they undo any letterbox.
 * Decode failures become `FacefleetError('E_DECODE')`.
 */
export async function tileImage(image: sharp.Sharp, width: number, height: number, plan: TilePlan, contract: InputContract, options: Pick<LetterboxOptions, 'fastShrinkOnLoad'> = {}): Promise<TiledImage> {
  const { width: cw, height: ch, padValue } = contract;
  const background = { r: padValue[0], g: padValue[1], b: padValue[2], alpha: 1 };
  let scaled: Buffer;
  try {
    const out = await image
      .autoOrient()
      .flatten({ background })
      .resize(plan.scaledWidth, plan.scaledHeight, { fit: 'fill', fastShrinkOnLoad: options.fastShrinkOnLoad ?? true })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (out.info.width !== plan.scaledWidth || out.info.height !== plan.scaledHeight || out.info.channels !== 3) {
      throw new FacefleetError('E_DECODE', `decode produced ${out.info.width}×${out.info.height}×${out.info.channels}, expected ${plan.scaledWidth}×${plan.scaledHeight}×3`);
    }
    scaled = out.data;
  } catch (err) {
    if (err instanceof FacefleetError) throw err;
    throw new FacefleetError('E_DECODE', 'the image cannot be decoded', { cause: err });
  }
  const sw = plan.scaledWidth;
  const sh = plan.scaledHeight;
  const tiles = plan.tiles.map((t): TileView => {
    const pixels = new Uint8Array(cw * ch * 3);
    const w = Math.min(cw, sw - t.x);
    const h = Math.min(ch, sh - t.y);
    if (w < cw || h < ch) for (let i = 0; i < pixels.length; i += 3) pixels.set(padValue, i);
    for (let row = 0; row < h; row++) {
      const src = ((t.y + row) * sw + t.x) * 3;
      pixels.set(scaled.subarray(src, src + w * 3), row * cw * 3);
    }
    const letterbox: Letterbox = { width, height, scale: plan.scale, padX: -t.x, padY: -t.y };
    const s = plan.scale;
    return { pixels, letterbox, window: [t.x / s, t.y / s, (t.x + w) / s, (t.y + h) / s], inner: t.inner };
  });
  // The whole view is the scaled buffer letterboxed again: one decode serves every view.
  const fit = fitLetterbox(width, height, cw, ch);
  const { data, info } = await sharp(scaled, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(fit.resizedWidth, fit.resizedHeight, { fit: 'fill' })
    .extend({ top: fit.padY, bottom: ch - fit.resizedHeight - fit.padY, left: fit.padX, right: cw - fit.resizedWidth - fit.padX, background })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== cw || info.height !== ch || info.channels !== 3) {
    throw new FacefleetError('E_DECODE', `letterbox produced ${info.width}×${info.height}×${info.channels}, expected ${cw}×${ch}×3`);
  }
  const whole: LetterboxedImage = {
    pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    letterbox: { width, height, scale: fit.scale, padX: fit.padX, padY: fit.padY },
  };
  return { whole, tiles };
}
