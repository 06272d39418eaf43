import sharp from 'sharp';
import { InputContract } from '../../src/detectors/detector';
import { FacefleetError } from '../../src/errors';
import { fitLetterbox, letterboxImage } from '../../src/imaging/letterbox';

const CONTRACT: InputContract = {
  name: 'x', width: 16, height: 16, layout: 'NHWC', colorOrder: 'RGB',
  mean: [0, 0, 0], std: [1, 1, 1], padValue: [0, 0, 255],
};

/** The RGB value of canvas pixel (x, y). */
function px(pixels: Uint8Array, x: number, y: number, width = 16): number[] {
  const i = (y * width + x) * 3;
  return Array.from(pixels.subarray(i, i + 3));
}

function solid(width: number, height: number, rgb: [number, number, number], alpha = 1): sharp.Sharp {
  return sharp({ create: { width, height, channels: alpha < 1 ? 4 : 3, background: { r: rgb[0], g: rgb[1], b: rgb[2], alpha } } });
}

describe('fitLetterbox', () => {
  it('scales to fit and centres, putting an odd extra pixel at the end', () => {
    expect(fitLetterbox(40, 20, 16, 16)).toEqual({ width: 40, height: 20, scale: 0.4, padX: 0, padY: 4, resizedWidth: 16, resizedHeight: 8 });
    expect(fitLetterbox(451, 300, 256, 256)).toMatchObject({ resizedWidth: 256, resizedHeight: 170, padX: 0, padY: 43 });
    expect(fitLetterbox(8, 8, 16, 16)).toMatchObject({ scale: 2, padX: 0, padY: 0, resizedWidth: 16 });
  });

  it('never rounds a thin image down to zero pixels', () => {
    expect(fitLetterbox(1000, 1, 16, 16)).toMatchObject({ resizedWidth: 16, resizedHeight: 1, padY: 7 });
  });
});

describe('letterboxImage', () => {
  it('places a wide image in the middle band and pads with padValue', async () => {
    const png = await solid(40, 20, [255, 0, 0]).png().toBuffer();
    const { pixels, letterbox } = await letterboxImage(png, CONTRACT);
    expect(pixels).toHaveLength(16 * 16 * 3);
    expect(letterbox).toEqual({ width: 40, height: 20, scale: 0.4, padX: 0, padY: 4 });
    expect(px(pixels, 8, 0)).toEqual([0, 0, 255]);
    expect(px(pixels, 8, 3)).toEqual([0, 0, 255]);
    expect(px(pixels, 8, 4)).toEqual([255, 0, 0]);
    expect(px(pixels, 0, 11)).toEqual([255, 0, 0]);
    expect(px(pixels, 15, 12)).toEqual([0, 0, 255]);
  });

  it('turns the image upright from EXIF orientation 6 (stored 40×20, shown 20×40)', async () => {
    const jpeg = await solid(40, 20, [0, 255, 0]).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const { pixels, letterbox } = await letterboxImage(sharp(jpeg), CONTRACT);
    expect(letterbox).toEqual({ width: 20, height: 40, scale: 0.4, padX: 4, padY: 0 });
    expect(px(pixels, 0, 8)).toEqual([0, 0, 255]);
    expect(px(pixels, 8, 8)[1]).toBeGreaterThan(240);
  });

  it('flattens transparency onto the pad colour and makes greyscale RGB', async () => {
    const clear = await solid(16, 16, [255, 255, 255], 0).png().toBuffer();
    expect(px((await letterboxImage(clear, CONTRACT)).pixels, 5, 5)).toEqual([0, 0, 255]);
    const grey = await solid(16, 16, [90, 90, 90]).toColourspace('b-w').png().toBuffer();
    expect(px((await letterboxImage(grey, CONTRACT)).pixels, 5, 5)).toEqual([90, 90, 90]);
  });

  it('gives the same canvas from the probe\'s upright size as from its own header read, EXIF-rotated included', async () => {
    const jpeg = await solid(40, 20, [0, 255, 0]).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const own = await letterboxImage(sharp(jpeg), CONTRACT);
    const given = await letterboxImage(sharp(jpeg), CONTRACT, { upright: { width: 20, height: 40 } });
    expect(given.letterbox).toEqual(own.letterbox);
    expect(Buffer.from(given.pixels).equals(Buffer.from(own.pixels))).toBe(true);
  });

  it('turns undecodable bytes into E_DECODE', async () => {
    await expect(letterboxImage(Buffer.from('not an image'), CONTRACT)).rejects.toThrow(FacefleetError);
    await expect(letterboxImage(Buffer.from('not an image'), CONTRACT)).rejects.toMatchObject({ code: 'E_DECODE' });
  });
});
