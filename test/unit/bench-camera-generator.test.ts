import sharp from 'sharp';
import { CAMERA_FRAME, planCameraShots, renderCameraPhoto } from '../../tools/bench/camera-set';

/** A 200×150 source: red top half, blue bottom half, so the upright direction can be read back. */
async function source(): Promise<Buffer> {
  const red = await sharp({ create: { width: 200, height: 75, channels: 3, background: '#d02020' } }).png().toBuffer();
  return sharp({ create: { width: 200, height: 150, channels: 3, background: '#2020d0' } }).composite([{ input: red, top: 0, left: 0 }]).png().toBuffer();
}

/** The pixel at (x, y) of the upright image, as sharp decodes it with its EXIF orientation applied. */
async function uprightPixel(jpeg: Buffer, x: number, y: number): Promise<number[]> {
  const { data } = await sharp(jpeg, { autoOrient: true }).extract({ left: x, top: y, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
  return [...data];
}

const isRed = ([r, g, b]: number[]) => r > 150 && g < 90 && b < 90;
const isBlue = ([r, g, b]: number[]) => b > 150 && r < 90 && g < 90;

describe('camera photos', () => {
  // Each render is a 12 MP decode, noise and encode: made once and shared by the tests.
  let src: Buffer;
  let clean: Buffer;
  let noisy: Buffer;
  beforeAll(async () => {
    src = await source();
    clean = await renderCameraPhoto(src, { orientation: 1, seed: 3, noise: false });
    noisy = await renderCameraPhoto(src, { orientation: 1, seed: 3 });
  });

  it('makes a 4032×3024 sRGB JPEG stored upright, with orientation 1', async () => {
    const jpeg = noisy;
    const meta = await sharp(jpeg).metadata();
    expect([meta.format, meta.width, meta.height, meta.orientation, meta.channels, meta.chromaSubsampling]).toEqual(['jpeg', 4032, 3024, 1, 3, '4:2:0']);
    expect(isRed(await uprightPixel(jpeg, 2016, 10))).toBe(true);
    expect(isBlue(await uprightPixel(jpeg, 2016, 3010))).toBe(true);
  });

  it.each([6, 8] as const)('stores the portrait one rotated with EXIF orientation %i, 3024×4032 once oriented', async (orientation) => {
    const jpeg = await renderCameraPhoto(src, { orientation, seed: 2, noise: false });
    const meta = await sharp(jpeg).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([CAMERA_FRAME.width, CAMERA_FRAME.height, orientation]);
    expect(meta.autoOrient).toEqual({ width: 3024, height: 4032 });
    // The source's top is the upright image's top: the stored rotation is undone by the tag, not doubled.
    expect(isRed(await uprightPixel(jpeg, 1512, 10))).toBe(true);
    expect(isBlue(await uprightPixel(jpeg, 1512, 4020))).toBe(true);
  });

  it('adds sensor noise: the JPEG is several times the size of the same frame without it', async () => {
    expect(noisy.length).toBeGreaterThan(4 * clean.length);
    expect(noisy.length).toBeGreaterThan(1_500_000);
    // Flat colour plus noise: the pixels of a flat area now differ from each other.
    const { data } = await sharp(noisy).extract({ left: 100, top: 100, width: 64, height: 64 }).greyscale().raw().toBuffer({ resolveWithObject: true });
    const mean = data.reduce((n, v) => n + v, 0) / data.length;
    const sd = Math.sqrt(data.reduce((n, v) => n + (v - mean) ** 2, 0) / data.length);
    expect(sd).toBeGreaterThan(1.5);
    const { data: flat } = await sharp(clean).extract({ left: 100, top: 100, width: 64, height: 64 }).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect(Math.max(...flat) - Math.min(...flat)).toBeLessThanOrEqual(2);
  });

  it('gives every source a landscape photo and every second one a portrait one, alternating 6 and 8', () => {
    const shots = planCameraShots(['d.png', 'a.jpg', 'c.png', 'b.jpg', 'e.jpg']);
    expect(shots.map((s) => [s.source, s.name, s.orientation])).toEqual([
      ['a.jpg', 'a-camera-4032x3024.jpg', 1],
      ['b.jpg', 'b-camera-4032x3024.jpg', 1],
      ['b.jpg', 'b-camera-3024x4032-exif6.jpg', 6],
      ['c.png', 'c-camera-4032x3024.jpg', 1],
      ['d.png', 'd-camera-4032x3024.jpg', 1],
      ['d.png', 'd-camera-3024x4032-exif8.jpg', 8],
      ['e.jpg', 'e-camera-4032x3024.jpg', 1],
    ]);
    expect(new Set(shots.map((s) => s.seed)).size).toBe(shots.length);
  });
});
