import { greedyNms, iou, topK, weightedNms } from '../../src/detectors/nms';

describe('iou', () => {
  it('is 1 for identical boxes, 0 for disjoint ones, and exact for a half overlap', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 12);
  });
  it('counts both end pixels when pixel-inclusive', () => {
    // 11×11 boxes sharing a 6×11 strip.
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10], true)).toBeCloseTo(66 / (121 + 121 - 66), 12);
    // Touching edges overlap by one pixel column in the inclusive convention.
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10], true)).toBeGreaterThan(0);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
  });
});

describe('greedy NMS', () => {
  const a = { box: [0, 0, 10, 10] as [number, number, number, number], score: 0.9 };
  const b = { box: [1, 0, 11, 10] as [number, number, number, number], score: 0.8 };
  const c = { box: [50, 50, 60, 60] as [number, number, number, number], score: 0.7 };
  it('drops a box above the threshold and keeps one at or below it', () => {
    expect(greedyNms([b, a, c], 0.5, 10)).toEqual([a, c]);
    const overlap = iou(a.box, b.box);
    expect(greedyNms([a, b], overlap, 10)).toEqual([a, b]);
  });
  it('stops at maxKeep', () => {
    expect(greedyNms([a, c], 0.5, 1)).toEqual([a]);
  });
  it('topK keeps the best k in score order', () => {
    expect(topK([c, a, b], 2)).toEqual([a, b]);
  });
});

describe('weighted NMS', () => {
  it('averages a cluster by score and keeps the best score', () => {
    const out = weightedNms(
      [
        { box: [0, 0, 10, 10], score: 0.75, landmarks: [[2, 2]] },
        { box: [2, 0, 12, 10], score: 0.25, landmarks: [[4, 2]] },
        { box: [40, 40, 50, 50], score: 0.5, landmarks: [[45, 45]] },
      ],
      0.3,
      10,
    );
    expect(out).toHaveLength(2);
    expect(out[0].score).toBe(0.75);
    expect(out[0].box[0]).toBeCloseTo(0.5, 12);
    expect(out[0].box[2]).toBeCloseTo(10.5, 12);
    expect(out[0].landmarks![0][0]).toBeCloseTo(2.5, 12);
    expect(out[1].box).toEqual([40, 40, 50, 50]);
  });
});
