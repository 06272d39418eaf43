import type { Face } from '../../src/detectors/detector';
import { mergeTileFaces, touchesInnerEdge } from '../../src/engine/merge-tiles';

const tile = (window: [number, number, number, number], inner: { left: boolean; top: boolean; right: boolean; bottom: boolean }) => ({
  window,
  inner,
  letterbox: { width: 2000, height: 1000, scale: 0.5, padX: 0, padY: 0 },
});
const face = (box: [number, number, number, number], score = 0.9): Face => ({ box, score });

describe('tile merging', () => {
  const left = tile([0, 0, 1280, 1000], { left: false, top: false, right: true, bottom: false });
  const right = tile([1024, 0, 2000, 1000], { left: true, top: false, right: false, bottom: false });

  it('counts a face as cut only at an inner edge (within 2 canvas pixels)', () => {
    expect(touchesInnerEdge(face([1200, 10, 1279, 90]), left)).toBe(true);
    expect(touchesInnerEdge(face([1200, 10, 1270, 90]), left)).toBe(false);
    // The image's own border is no inner edge.
    expect(touchesInnerEdge(face([0, 10, 40, 90]), left)).toBe(false);
    expect(touchesInnerEdge(face([1025, 10, 1100, 90]), right)).toBe(true);
  });

  it('drops cut faces, merges a face seen by two tiles and the whole view into one, keeps the rest', () => {
    const merged = mergeTileFaces(
      [face([1100, 500, 1180, 590], 0.95)],
      [
        { tile: left, faces: [face([1101, 501, 1181, 591], 0.9), face([1250, 100, 1280, 140], 0.99), face([100, 100, 120, 125], 0.8)] },
        { tile: right, faces: [face([1099, 499, 1179, 589], 0.85), face([1500, 700, 1520, 725], 0.7)] },
      ],
      0.4,
      100,
    );
    expect(merged.map((f) => f.score)).toEqual([0.95, 0.8, 0.7]);
  });

  it('applies the cap after merging', () => {
    const merged = mergeTileFaces([], [{ tile: left, faces: [face([100, 100, 120, 125], 0.8), face([300, 100, 320, 125], 0.6)] }], 0.4, 1);
    expect(merged).toHaveLength(1);
  });

  it('returns the whole view as the detector gave it when there are no tiles (no second NMS, no second cap)', () => {
    const whole = [face([0, 0, 10, 10], 0.9), face([1, 0, 11, 10], 0.8)];
    expect(mergeTileFaces(whole, [], 0.4, 1)).toBe(whole);
  });
});

