import { AnchorCache, anchorCount, anchorLevels, generateAnchors } from '../../src/detectors/mogface-anchors';

const SPEC = { strides: [4, 8, 16, 32, 64, 128], bases: [16, 32, 64, 128, 256, 512], scale: 0.68 };

describe('MogFace anchor levels', () => {
  it('has 34,125 anchors on a 640×640 canvas (160², 80², 40², 20², 10², 5²)', () => {
    const levels = anchorLevels(640, 640, SPEC.strides);
    expect(levels.map((l) => [l.height, l.width])).toEqual([
      [160, 160], [80, 80], [40, 40], [20, 20], [10, 10], [5, 5],
    ]);
    expect(anchorCount(640, 640, SPEC.strides)).toBe(34125);
  });

  it('halves with ceiling on a non-square odd canvas (321×479 → 13,035)', () => {
    const levels = anchorLevels(321, 479, SPEC.strides);
    expect(levels.map((l) => [l.height, l.width])).toEqual([
      [81, 120], [41, 60], [21, 30], [11, 15], [6, 8], [3, 4],
    ]);
    expect(levels.map((l) => l.offset)).toEqual([0, 9720, 12180, 12810, 12975, 13023]);
    expect(anchorCount(321, 479, SPEC.strides)).toBe(13035);
  });

  it('gives the sizes of a 320×320 canvas and a 1-pixel one', () => {
    expect(anchorCount(320, 320, SPEC.strides)).toBe(80 * 80 + 40 * 40 + 20 * 20 + 10 * 10 + 5 * 5 + 3 * 3);
    expect(anchorCount(1, 1, SPEC.strides)).toBe(6);
  });
});

describe('MogFace anchors', () => {
  const anchors = generateAnchors(640, 640, SPEC);

  it('has four values per anchor', () => {
    expect(anchors.length).toBe(34125 * 4);
  });

  it('places the first anchor at the centre of the first stride-4 cell, side 16·0.68', () => {
    expect(Array.from(anchors.subarray(0, 4))).toEqual([2, 2, 16 * 0.68, 16 * 0.68]);
    expect(anchors[2]).toBeCloseTo(10.88, 12);
  });

  it('lays a level out row-major: stride 16, row 3, column 5', () => {
    const index = 160 * 160 + 80 * 80 + 3 * 40 + 5;
    expect(Array.from(anchors.subarray(index * 4, index * 4 + 4))).toEqual([88, 56, 64 * 0.68, 64 * 0.68]);
    const nextRow = index + 40;
    expect(anchors[nextRow * 4]).toBe(88);
    expect(anchors[nextRow * 4 + 1]).toBe(72);
  });

  it('ends with the bottom-right stride-128 anchor, side 348.16', () => {
    const last = anchors.subarray(anchors.length - 4);
    expect(last[0]).toBe(4.5 * 128);
    expect(last[1]).toBe(4.5 * 128);
    expect(last[2]).toBeCloseTo(348.16, 10);
  });

  it('follows the canvas on a non-square canvas (x from width, y from height)', () => {
    const a = generateAnchors(321, 479, SPEC);
    const lastOfFirstRow = 119;
    expect(a[lastOfFirstRow * 4]).toBe(119.5 * 4);
    expect(a[lastOfFirstRow * 4 + 1]).toBe(2);
    const firstOfSecondLevel = 9720;
    expect(Array.from(a.subarray(firstOfSecondLevel * 4, firstOfSecondLevel * 4 + 2))).toEqual([4, 4]);
  });
});

describe('AnchorCache', () => {
  it('generates once per canvas size', () => {
    const cache = new AnchorCache(SPEC);
    const first = cache.get(320, 320);
    expect(cache.get(320, 320)).toBe(first);
    expect(cache.get(320, 480)).not.toBe(first);
    expect(cache.get(320, 480).length).toBe(anchorCount(320, 480, SPEC.strides) * 4);
  });

  it('evicts the oldest size beyond its bound', () => {
    const cache = new AnchorCache(SPEC, 1);
    const first = cache.get(64, 64);
    cache.get(128, 128);
    expect(cache.get(64, 64)).not.toBe(first);
  });
});
