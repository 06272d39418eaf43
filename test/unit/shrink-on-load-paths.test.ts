import sharp from 'sharp';
import type { InputContract } from '../../src/detectors/detector';
import { prepareImage } from '../../src/imaging/prepare-image';
import type { PreparedImage } from '../../src/imaging/prepared-image';
import { DEFAULT_TILING } from '../../src/imaging/tile-plan';

const CANVAS: InputContract = {
  name: 'input', width: 640, height: 640, layout: 'NCHW', colorOrder: 'BGR',
  mean: [0, 0, 0], std: [1, 1, 1], padValue: [0, 0, 0],
};
const LIMITS = { maxPixels: 100e6 };

/** A photo-like JPEG: smooth random texture, so a decoder's own downscaling shows. */
async function photo(width: number, height: number, options: { orientation?: number; cmyk?: boolean } = {}): Promise<Buffer> {
  // Noise at a quarter of the size, enlarged: smooth texture at little cost.
  const raw = await sharp(await sharp({ create: { width: width / 4, height: height / 4, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 25 } } }).png().toBuffer())
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  let img = sharp(raw, { raw: { width, height, channels: 3 } });
  if (options.cmyk) img = img.toColourspace('cmyk');
  const jpeg = img.jpeg({ quality: 90 });
  return (options.orientation ? jpeg.withMetadata({ orientation: options.orientation }) : jpeg).toBuffer();
}

/** Largest and mean absolute difference of two canvases of the same size. */
function difference(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/**
 * A 12-megapixel JPEG bound for a 640 canvas is decoded at the smallest size the canvas allows
 * (libjpeg's DCT scaling by the largest factor, libvips' fast shrink-on-load) on every path: plain,
 * EXIF-rotated, CMYK, and the tiled decode. The evidence is in the pixels: the canvas differs
 * (slightly) from the one made with the cautious choice, which decodes four times the pixels; the
 * cautious choice twice gives the same canvas.
 */
describe('shrink-on-load on every decode path', () => {
  const cases: Array<[string, { orientation?: number; cmyk?: boolean }, number, number]> = [
    ['a 4032×3024 JPEG', {}, 4032, 3024],
    ['a 4032×3024 JPEG stored 3024 wide with EXIF orientation 6', { orientation: 6 }, 3024, 4032],
    ['a 4032×3024 CMYK JPEG', { cmyk: true }, 4032, 3024],
  ];

  describe.each([
    ['whole image', undefined],
    ['tiles', DEFAULT_TILING],
  ] as const)('%s', (_view, tiling) => {
    const canvasOf = (p: PreparedImage) => (tiling ? p.tiles![0].pixels : p.pixels);

    it.each(cases)('%s', async (_name, options, storedW, storedH) => {
      const body = await photo(storedW, storedH, options);
      const shrunk = await prepareImage(body, CANVAS, LIMITS, tiling);
      const full = await prepareImage(body, CANVAS, LIMITS, tiling, { fastShrinkOnLoad: false });
      expect(shrunk.letterbox).toEqual(full.letterbox);
      expect(shrunk.letterbox.width).toBe(4032);
      if (tiling) expect(shrunk.tiles!.length).toBe(full.tiles!.length);
      const d = difference(canvasOf(shrunk), canvasOf(full));
      expect(d.max).toBeGreaterThan(0);
      expect(d.mean).toBeLessThan(3);
    }, 60_000);
  });

  it('differs only through the decoder: two cautious decodes give the same canvas', async () => {
    const body = await photo(4032, 3024);
    const a = await prepareImage(body, CANVAS, LIMITS, undefined, { fastShrinkOnLoad: false });
    const b = await prepareImage(body, CANVAS, LIMITS, undefined, { fastShrinkOnLoad: false });
    expect(difference(a.pixels, b.pixels).max).toBe(0);
  }, 60_000);
});
