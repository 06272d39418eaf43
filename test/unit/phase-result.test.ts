import { perImage, rate } from '../../tools/bench/phase-result';

describe('benchmark rates', () => {
  it('keeps 4 significant digits, so a model at a fraction of an image per second is not rounded away', () => {
    expect(rate(8, 29_510)).toBeCloseTo(0.2711, 4);
    expect(rate(8, 24_000)).not.toBe(rate(8, 29_510));
    expect(rate(400, 6_490)).toBe(61.63);
    expect(rate(1464, 10_090)).toBe(145.1);
    expect(rate(5, 0)).toBe(0);
  });

  it('gives CPU ms per image to 0.01, and nothing when no image finished', () => {
    expect(perImage(12_440, 400)).toBe(31.1);
    expect(perImage(100, 0)).toBeNull();
    expect(perImage(null, 10)).toBeNull();
  });
});
