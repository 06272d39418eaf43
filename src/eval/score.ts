import type { Box, GtFace } from './ground-truth';
import { ImageMatch, ScoredBox, matchDetections } from './match-detections';

/** One image to score: its ground truth and every detection down to the collection threshold. */
export interface ScoreImage {
  faces: readonly GtFace[];
  ignore: readonly Box[];
  detections: readonly ScoredBox[];
}

/** Options of {@link scoreDetections}. */
export interface ScoreOptions {
  /** Operating threshold: the score at or above which a detection is reported. */
  scoreThreshold: number;
  /** IoU at or above which a detection matches a face (or an ignore region). @defaultValue 0.5 */
  iouThreshold?: number;
}

/** A point of the precision/recall curve: the figures when detections scoring at least `score` are kept. */
export interface PrPoint {
  recall: number;
  precision: number;
  score: number;
}

/** Recall of one group of faces (a size bucket or a difficulty label) at the operating threshold. */
export interface RecallGroup {
  /** `<16`, `16-32`, … for sizes; the annotation's label for difficulties. */
  label: string;
  /** Faces in the group. */
  faces: number;
  /** Of them, matched by a detection at or above the operating threshold. */
  found: number;
  /** `found / faces`, or null for an empty group. */
  recall: number | null;
}

/** Counts and rates at the operating threshold. */
export interface OperatingPoint {
  scoreThreshold: number;
  tp: number;
  fp: number;
  /** Detections discarded for falling in an ignore region. */
  ignored: number;
  /** `tp / faces`, or null without faces. */
  recall: number | null;
  /** `tp / (tp + fp)`, or null without counted detections. */
  precision: number | null;
  /** False positives per image, or null without images. */
  fpPerImage: number | null;
}

/** The figures of a detector on an annotated set. */
export interface EvalScore {
  images: number;
  /** Ground-truth faces (ignore regions excluded). */
  faces: number;
  iouThreshold: number;
  /** All-point interpolated average precision, or null when the set has no faces. */
  ap: number | null;
  /** One point per distinct detection score, best score first (empty when the set has no faces). */
  curve: PrPoint[];
  atThreshold: OperatingPoint;
  /** Recall by ground-truth box width in pixels: {@link SIZE_BUCKETS}. */
  recallBySize: RecallGroup[];
  /** Recall by the annotations' difficulty labels (empty when no face has one). */
  recallByDifficulty: RecallGroup[];
}

/** Face-size buckets by ground-truth box width in pixels: `min <= width < max`. */
export const SIZE_BUCKETS: ReadonlyArray<{ label: string; min: number; max: number }> = [
  { label: '<16', min: -Infinity, max: 16 },
  { label: '16-32', min: 16, max: 32 },
  { label: '32-64', min: 32, max: 64 },
  { label: '64-128', min: 64, max: 128 },
  { label: '>=128', min: 128, max: Infinity },
];

const DIFFICULTY_ORDER = ['easy', 'medium', 'hard'];

/**
 * Scores detections against ground truth: VOC-style matching per image ({@link matchDetections}),
 * then, over all images pooled, the PR curve, its all-point interpolated AP ({@link averagePrecision})
 * and the figures at the operating threshold (recall overall, by face size and by difficulty,
 * precision, false positives per image). Pure.
 */
export function scoreDetections(images: readonly ScoreImage[], options: ScoreOptions): EvalScore {
  const iouThreshold = options.iouThreshold ?? 0.5;
  const t = options.scoreThreshold;
  const matches: ImageMatch[] = images.map((img) => matchDetections(img.faces, img.ignore, img.detections, iouThreshold));
  const faces = images.reduce((n, img) => n + img.faces.length, 0);

  const counted = matches.flatMap((m) => m.detections.filter((d) => d.outcome !== 'ignored'));
  const curve = faces > 0 ? prCurve(counted, faces) : [];

  let tp = 0;
  let fp = 0;
  let ignored = 0;
  for (const m of matches) {
    for (const d of m.detections) {
      if (d.score < t) continue;
      if (d.outcome === 'tp') tp++;
      else if (d.outcome === 'fp') fp++;
      else ignored++;
    }
  }

  const sizeGroups = SIZE_BUCKETS.map((b) => ({ label: b.label, faces: 0, found: 0 }));
  const difficultyGroups = new Map<string, { faces: number; found: number }>();
  images.forEach((img, i) => {
    img.faces.forEach((face, f) => {
      const score = matches[i].matchedScore[f];
      const found = score !== undefined && score >= t ? 1 : 0;
      const width = face.box[2] - face.box[0];
      const bucket = sizeGroups[SIZE_BUCKETS.findIndex((b) => width >= b.min && width < b.max)];
      bucket.faces++;
      bucket.found += found;
      if (face.difficulty !== undefined) {
        const group = difficultyGroups.get(face.difficulty) ?? { faces: 0, found: 0 };
        group.faces++;
        group.found += found;
        difficultyGroups.set(face.difficulty, group);
      }
    });
  });
  const rank = (label: string) => (DIFFICULTY_ORDER.includes(label) ? DIFFICULTY_ORDER.indexOf(label) : DIFFICULTY_ORDER.length);
  const difficulties = [...difficultyGroups.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

  return {
    images: images.length,
    faces,
    iouThreshold,
    ap: faces > 0 ? averagePrecision(curve) : null,
    curve,
    atThreshold: {
      scoreThreshold: t,
      tp,
      fp,
      ignored,
      recall: ratio(tp, faces),
      precision: ratio(tp, tp + fp),
      fpPerImage: ratio(fp, images.length),
    },
    recallBySize: sizeGroups.map((g) => ({ ...g, recall: ratio(g.found, g.faces) })),
    recallByDifficulty: difficulties.map((label) => {
      const g = difficultyGroups.get(label)!;
      return { label, faces: g.faces, found: g.found, recall: ratio(g.found, g.faces) };
    }),
  };
}

/**
 * The PR curve of pooled, matched detections (ignored ones already left out) against `faces` ground
 * truth faces. Detections with equal scores form one point: a threshold keeps all of them or none, so
 * the curve does not depend on the order of ties.
 */
export function prCurve(detections: ReadonlyArray<{ score: number; outcome: 'tp' | 'fp' | 'ignored' }>, faces: number): PrPoint[] {
  const sorted = detections.filter((d) => d.outcome !== 'ignored').sort((a, b) => b.score - a.score);
  const curve: PrPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i].outcome === 'tp') tp++;
    else fp++;
    if (i + 1 < sorted.length && sorted[i + 1].score === sorted[i].score) continue;
    curve.push({ recall: tp / faces, precision: tp / (tp + fp), score: sorted[i].score });
  }
  return curve;
}

/**
 * All-point interpolated average precision (VOC 2010+ and the WIDER FACE evaluation): precision is
 * replaced by its running maximum from the right (the envelope), then summed over recall steps,
 * AP = Σ (r_i − r_{i−1}) · max_{j ≥ i} p_j with r_0 = 0. `curve` is ordered by falling score.
 */
export function averagePrecision(curve: readonly PrPoint[]): number {
  const envelope = interpolatedPrecision(curve);
  let ap = 0;
  let previousRecall = 0;
  curve.forEach((p, i) => {
    ap += (p.recall - previousRecall) * envelope[i];
    previousRecall = p.recall;
  });
  return ap;
}

/** The precision envelope of a curve ordered by falling score: at each point, the best precision at that recall or beyond. */
export function interpolatedPrecision(curve: ReadonlyArray<{ precision: number }>): number[] {
  const envelope = new Array<number>(curve.length);
  let best = 0;
  for (let i = curve.length - 1; i >= 0; i--) {
    best = Math.max(best, curve[i].precision);
    envelope[i] = best;
  }
  return envelope;
}

function ratio(a: number, b: number): number | null {
  return b > 0 ? a / b : null;
}
