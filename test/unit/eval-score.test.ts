import type { Box, GtFace } from '../../src/eval/ground-truth';
import { insideFraction, matchDetections } from '../../src/eval/match-detections';
import { ScoreImage, averagePrecision, prCurve, scoreDetections } from '../../src/eval/score';

const face = (box: Box, difficulty?: string): GtFace => (difficulty ? { box, difficulty } : { box });
const det = (box: Box, score: number) => ({ box, score });

describe('scoreDetections on a hand-computed set', () => {
  // Two images, three faces:
  //   image A: a1 = [0,0,20,20] (20 px wide), a2 = [100,0,200,100] (100 px wide)
  //   image B: b1 = [0,0,200,200] (200 px wide)
  // Five detections (given out of score order below):
  //   d1 0.9 A on a1 (IoU 1)                       -> TP
  //   d2 0.8 B far from b1                         -> FP
  //   d3 0.7 A on a1 again (IoU 380/420), a1 taken -> FP (duplicate)
  //   d4 0.6 A on a2 (IoU 1)                       -> TP
  //   d5 0.5 B on b1 (IoU 1)                       -> TP
  //
  //   rank  score  outcome  cumTP  cumFP  recall  precision  envelope (max precision at or right of it)
  //   1     0.9    TP       1      0      1/3     1          1
  //   2     0.8    FP       1      1      1/3     1/2        3/5
  //   3     0.7    FP       1      2      1/3     1/3        3/5
  //   4     0.6    TP       2      2      2/3     1/2        3/5
  //   5     0.5    TP       3      2      1       3/5        3/5
  //
  //   AP = sum over points of (recall step) * envelope
  //      = (1/3)(1) + 0(3/5) + 0(3/5) + (1/3)(3/5) + (1/3)(3/5)
  //      = 5/15 + 3/15 + 3/15 = 11/15
  //   (Raw precision instead of the envelope would give 1/3 + 1/6 + 1/5 = 7/10.)
  const images: ScoreImage[] = [
    {
      faces: [face([0, 0, 20, 20]), face([100, 0, 200, 100])],
      ignore: [],
      detections: [det([1, 0, 21, 20], 0.7), det([100, 0, 200, 100], 0.6), det([0, 0, 20, 20], 0.9)],
    },
    {
      faces: [face([0, 0, 200, 200])],
      ignore: [],
      detections: [det([0, 0, 200, 200], 0.5), det([300, 300, 340, 340], 0.8)],
    },
  ];

  it('has AP 11/15', () => {
    const s = scoreDetections(images, { scoreThreshold: 0.65 });
    expect(s.ap).toBeCloseTo(11 / 15, 12);
    expect(s.faces).toBe(3);
    expect(s.images).toBe(2);
    expect(s.iouThreshold).toBe(0.5);
  });

  it('has the PR curve of the table, best score first', () => {
    const s = scoreDetections(images, { scoreThreshold: 0.65 });
    const expected = [
      [1 / 3, 1, 0.9],
      [1 / 3, 1 / 2, 0.8],
      [1 / 3, 1 / 3, 0.7],
      [2 / 3, 1 / 2, 0.6],
      [1, 3 / 5, 0.5],
    ];
    expect(s.curve).toHaveLength(5);
    s.curve.forEach((p, i) => {
      expect(p.recall).toBeCloseTo(expected[i][0], 12);
      expect(p.precision).toBeCloseTo(expected[i][1], 12);
      expect(p.score).toBe(expected[i][2]);
    });
  });

  it('reports the operating point at 0.65 (d1, d2, d3 kept) and at 0.55 (d4 added)', () => {
    const at65 = scoreDetections(images, { scoreThreshold: 0.65 }).atThreshold;
    expect(at65).toMatchObject({ scoreThreshold: 0.65, tp: 1, fp: 2, ignored: 0, fpPerImage: 1 });
    expect(at65.recall).toBeCloseTo(1 / 3, 12);
    expect(at65.precision).toBeCloseTo(1 / 3, 12);
    const at55 = scoreDetections(images, { scoreThreshold: 0.55 }).atThreshold;
    expect(at55).toMatchObject({ tp: 2, fp: 2, precision: 0.5, fpPerImage: 1 });
    expect(at55.recall).toBeCloseTo(2 / 3, 12);
  });

  it('splits recall by face width at the operating threshold', () => {
    const s = scoreDetections(images, { scoreThreshold: 0.65 });
    expect(s.recallBySize).toEqual([
      { label: '<16', faces: 0, found: 0, recall: null },
      { label: '16-32', faces: 1, found: 1, recall: 1 },
      { label: '32-64', faces: 0, found: 0, recall: null },
      { label: '64-128', faces: 1, found: 0, recall: 0 },
      { label: '>=128', faces: 1, found: 0, recall: 0 },
    ]);
    // At 0.5, d4 and d5 find the 100 px and the 200 px face.
    expect(scoreDetections(images, { scoreThreshold: 0.5 }).recallBySize.map((g) => g.found)).toEqual([0, 1, 0, 1, 1]);
    expect(s.recallByDifficulty).toEqual([]);
  });
});

describe('averagePrecision', () => {
  it('integrates the envelope, not the raw precision', () => {
    // Raw precision dips to 1/2 at recall 1/2 and rises to 2/3 at recall 1: the envelope is 2/3 there.
    const curve = [
      { recall: 0.5, precision: 0.5, score: 0.9 },
      { recall: 1, precision: 2 / 3, score: 0.8 },
    ];
    expect(averagePrecision(curve)).toBeCloseTo(2 / 3, 12);
  });
  it('is 0 for an empty curve', () => {
    expect(averagePrecision([])).toBe(0);
  });
});

describe('ignore regions', () => {
  const region: Box = [100, 100, 200, 200];
  const images: ScoreImage[] = [
    {
      faces: [face([0, 0, 50, 50])],
      ignore: [region],
      detections: [
        det([100, 100, 200, 200], 0.95), // IoU 1 with the region
        det([120, 120, 220, 170], 0.94), // IoU 0.36, but 80 % of its area inside the region
        det([190, 190, 230, 230], 0.93), // 6 % inside: a false positive
        det([0, 0, 50, 50], 0.9), // the face
      ],
    },
  ];

  it('discards detections on or mostly inside an ignore region, and keeps the rest as FP', () => {
    expect(insideFraction([120, 120, 220, 170], region)).toBeCloseTo(0.8, 12);
    const s = scoreDetections(images, { scoreThreshold: 0.5 });
    expect(s.atThreshold).toMatchObject({ tp: 1, fp: 1, ignored: 2, recall: 1, precision: 0.5 });
    // Only the FP at 0.93 precedes the TP: points (0, 0) and (1, 1/2), AP 1/2. Had the two ignored
    // detections counted, the TP would come fourth and AP would be 1/4.
    expect(s.curve.map((p) => [p.recall, p.precision])).toEqual([
      [0, 0],
      [1, 0.5],
    ]);
    expect(s.ap).toBe(0.5);
  });

  it('prefers a face over an ignore region for a detection that overlaps both', () => {
    const m = matchDetections([face([100, 100, 150, 150])], [region], [det([100, 100, 150, 150], 0.9)]);
    expect(m.detections).toEqual([{ score: 0.9, outcome: 'tp', face: 0 }]);
  });

  it('uses the IoU threshold for ignore regions too', () => {
    // 70 × 100 inside the region: IoU 0.7 and 100 % inside at the default; at IoU 0.8 still mostly inside.
    expect(matchDetections([], [region], [det([100, 100, 170, 200], 0.9)], 0.8).detections[0].outcome).toBe('ignored');
    // 40 % of the box inside and IoU 0.4/1.6 = 0.25: ignored only with an IoU threshold at or below 0.25.
    const half: Box = [160, 100, 260, 200];
    expect(matchDetections([], [region], [det(half, 0.9)]).detections[0].outcome).toBe('fp');
    expect(matchDetections([], [region], [det(half, 0.9)], 0.25).detections[0].outcome).toBe('ignored');
  });
});

describe('matching', () => {
  it('counts a second detection of a matched face as a false positive, whatever the input order', () => {
    const faces = [face([0, 0, 100, 100])];
    const weaker = det([5, 0, 105, 100], 0.7);
    const stronger = det([0, 0, 100, 100], 0.9);
    const m = matchDetections(faces, [], [weaker, stronger]);
    expect(m.detections).toEqual([
      { score: 0.9, outcome: 'tp', face: 0 },
      { score: 0.7, outcome: 'fp' },
    ]);
    expect(m.matchedScore).toEqual([0.9]);
    const s = scoreDetections([{ faces, ignore: [], detections: [weaker, stronger] }], { scoreThreshold: 0.5 });
    expect(s.atThreshold).toMatchObject({ tp: 1, fp: 1 });
    expect(s.ap).toBe(1);
  });

  it('takes the unmatched face with the highest IoU', () => {
    // f0 and f1 overlap; the best detection overlaps f1 more, the second one then takes f0.
    const faces = [face([0, 0, 100, 100]), face([20, 0, 120, 100])];
    const m = matchDetections(faces, [], [det([18, 0, 118, 100], 0.9), det([2, 0, 102, 100], 0.8)]);
    expect(m.detections.map((d) => d.face)).toEqual([1, 0]);
  });

  it('matches at IoU equal to the threshold, not below it', () => {
    // [0,0,100,100] vs [0,0,100,50]: IoU exactly 0.5.
    expect(matchDetections([face([0, 0, 100, 100])], [], [det([0, 0, 100, 50], 0.9)]).detections[0].outcome).toBe('tp');
    expect(matchDetections([face([0, 0, 100, 100])], [], [det([0, 0, 100, 49], 0.9)]).detections[0].outcome).toBe('fp');
    expect(matchDetections([face([0, 0, 100, 100])], [], [det([0, 0, 100, 49], 0.9)], 0.4).detections[0].outcome).toBe('tp');
  });

  it('makes one curve point of tied scores, so AP does not depend on their order', () => {
    const faces = [face([0, 0, 10, 10])];
    const tp = det([0, 0, 10, 10], 0.8);
    const fp = det([50, 50, 60, 60], 0.8);
    for (const detections of [[tp, fp], [fp, tp]]) {
      const s = scoreDetections([{ faces, ignore: [], detections }], { scoreThreshold: 0.5 });
      expect(s.curve).toEqual([{ recall: 1, precision: 0.5, score: 0.8 }]);
      expect(s.ap).toBe(0.5);
    }
    expect(prCurve([{ score: 0.8, outcome: 'tp' }, { score: 0.8, outcome: 'ignored' }], 1)).toEqual([{ recall: 1, precision: 1, score: 0.8 }]);
  });
});

describe('sizes, difficulties and rates', () => {
  it('puts widths on bucket edges into the upper bucket', () => {
    const widths = [15.9, 16, 31.9, 32, 64, 127.9, 128];
    const s = scoreDetections([{ faces: widths.map((w) => face([0, 0, w, 10])), ignore: [], detections: [] }], { scoreThreshold: 0.5 });
    expect(s.recallBySize.map((g) => g.faces)).toEqual([1, 2, 1, 2, 1]);
  });

  it('groups recall by difficulty, easy before hard, unlabelled faces left out', () => {
    const s = scoreDetections(
      [
        {
          faces: [face([0, 0, 10, 10], 'hard'), face([20, 0, 30, 10], 'easy'), face([40, 0, 50, 10], 'easy'), face([60, 0, 70, 10])],
          ignore: [],
          detections: [det([20, 0, 30, 10], 0.9), det([0, 0, 10, 10], 0.3)],
        },
      ],
      { scoreThreshold: 0.5 },
    );
    expect(s.recallByDifficulty).toEqual([
      { label: 'easy', faces: 2, found: 1, recall: 0.5 },
      { label: 'hard', faces: 1, found: 0, recall: 0 },
    ]);
  });

  it('divides false positives at the threshold by every image, faceless ones included', () => {
    const images: ScoreImage[] = [
      { faces: [face([0, 0, 10, 10])], ignore: [], detections: [det([0, 0, 10, 10], 0.9), det([50, 50, 60, 60], 0.7)] },
      { faces: [], ignore: [], detections: [det([0, 0, 10, 10], 0.6), det([20, 20, 30, 30], 0.2)] },
      { faces: [], ignore: [], detections: [] },
      { faces: [], ignore: [], detections: [] },
    ];
    const s = scoreDetections(images, { scoreThreshold: 0.5 });
    expect(s.atThreshold).toMatchObject({ tp: 1, fp: 2, fpPerImage: 0.5 });
    // Points: (1, 1) at 0.9, then FPs only; the envelope keeps precision 1 up to recall 1.
    expect(s.ap).toBe(1);
  });

  it('scores a set without detections as AP 0, recall 0 and precision undefined', () => {
    const s = scoreDetections([{ faces: [face([0, 0, 10, 10])], ignore: [], detections: [] }], { scoreThreshold: 0.5 });
    expect(s.ap).toBe(0);
    expect(s.curve).toEqual([]);
    expect(s.atThreshold).toMatchObject({ tp: 0, fp: 0, recall: 0, precision: null, fpPerImage: 0 });
  });

  it('leaves AP and recall undefined for a set without faces, and still counts its false positives', () => {
    const s = scoreDetections([{ faces: [], ignore: [], detections: [det([0, 0, 10, 10], 0.9)] }], { scoreThreshold: 0.5 });
    expect(s.ap).toBeNull();
    expect(s.curve).toEqual([]);
    expect(s.atThreshold).toMatchObject({ fp: 1, recall: null, precision: 0, fpPerImage: 1 });
  });

  it('has no rates at all for no images', () => {
    const s = scoreDetections([], { scoreThreshold: 0.5 });
    expect(s).toMatchObject({ images: 0, faces: 0, ap: null, atThreshold: { recall: null, precision: null, fpPerImage: null } });
  });
});
