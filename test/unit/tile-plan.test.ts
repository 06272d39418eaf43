import { DEFAULT_TILING, planTiles } from '../../src/imaging/tile-plan';

describe('planTiles', () => {
  it('adds no tiles to a photo the whole-image view already sees at nearly full scale', () => {
    expect(planTiles(512, 512, 640).tiles).toEqual([]);
    expect(planTiles(800, 600, 640).tiles).toEqual([]);
    expect(planTiles(4032, 3024, 640, { ...DEFAULT_TILING, maxTiles: 0 }).tiles).toEqual([]);
  });

  it('covers a 4032×3024 photo with a 2×2 grid at the largest scale 4 tiles allow', () => {
    const plan = planTiles(4032, 3024, 640);
    const overlap = Math.round(0.2 * 640);
    // Two tiles across: 2·(640 − 128) + 128 = 1152 scaled pixels for 4032 → scale 0.2857.
    expect(plan.scale).toBeCloseTo((2 * (640 - overlap) + overlap) / 4032, 12);
    expect(plan.tiles).toHaveLength(4);
    expect(plan.scaledWidth).toBe(1152);
    expect(plan.tiles.map((t) => [t.x, t.y])).toEqual([[0, 0], [512, 0], [0, plan.scaledHeight - 640], [512, plan.scaledHeight - 640]]);
    expect(plan.tiles[0].inner).toEqual({ left: false, top: false, right: true, bottom: true });
    expect(plan.tiles[3].inner).toEqual({ left: true, top: true, right: false, bottom: false });
  });

  it('never upsamples, and never plans more tiles than allowed', () => {
    for (const [w, h] of [[4032, 3024], [3024, 4032], [8000, 1000], [1300, 700], [2000, 2000]]) {
      for (const maxTiles of [2, 4, 6, 9, 16]) {
        const plan = planTiles(w, h, 640, { ...DEFAULT_TILING, maxTiles });
        expect(plan.tiles.length).toBeLessThanOrEqual(maxTiles);
        if (plan.tiles.length > 0) expect(plan.scale).toBeLessThanOrEqual(1);
      }
    }
    const full = planTiles(1300, 700, 640, { ...DEFAULT_TILING, maxTiles: 16 });
    expect(full.scale).toBe(1);
  });

  it('covers every scaled pixel, with neighbours overlapping by at least the overlap', () => {
    const plan = planTiles(3024, 4032, 640, { ...DEFAULT_TILING, maxTiles: 9 });
    const xs = [...new Set(plan.tiles.map((t) => t.x))].sort((a, b) => a - b);
    const ys = [...new Set(plan.tiles.map((t) => t.y))].sort((a, b) => a - b);
    expect(xs[0]).toBe(0);
    expect(ys[0]).toBe(0);
    expect(xs[xs.length - 1] + 640).toBeGreaterThanOrEqual(plan.scaledWidth);
    expect(ys[ys.length - 1] + 640).toBeGreaterThanOrEqual(plan.scaledHeight);
    for (const axis of [xs, ys]) for (let i = 1; i < axis.length; i++) expect(axis[i - 1] + 640 - axis[i]).toBeGreaterThanOrEqual(128);
  });
});
