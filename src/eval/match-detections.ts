import { iou } from '../detectors/nms';
import type { Box, GtFace } from './ground-truth';

/** A detection to score: its box in upright image pixels and its confidence. */
export interface ScoredBox {
  box: Box;
  score: number;
}

/** What one detection turned out to be. */
export type MatchOutcome = 'tp' | 'fp' | 'ignored';

/** One detection after matching. */
export interface MatchedDetection {
  score: number;
  outcome: MatchOutcome;
  /** Index of the ground-truth face it matched (true positives only). */
  face?: number;
}

/** The detections of one image after matching, best score first. */
export interface ImageMatch {
  detections: MatchedDetection[];
  /** Per ground-truth face, the score of the detection that matched it, or undefined when none did. */
  matchedScore: Array<number | undefined>;
}

/** Share of a detection's area inside an ignore region at which it is discarded. */
export const IGNORE_INSIDE_FRACTION = 0.5;

/**
 * VOC-style greedy matching of one image. Detections are taken best score first (ties keep input
 * order); each claims the still unmatched face with the highest IoU at or above `iouThreshold` (a
 * true positive). A detection that claims none is discarded (neither true nor false positive) when its
 * IoU with an ignore region reaches `iouThreshold` or at least half its area lies inside one;
 * otherwise it is a false positive, so a second detection of an already matched face is one.
 *
 * Because detections are taken in score order, the decisions for those scoring at or above any
 * threshold do not depend on the ones below it: one matching serves every point of the PR curve.
 */
export function matchDetections(faces: readonly GtFace[], ignore: readonly Box[], detections: readonly ScoredBox[], iouThreshold = 0.5): ImageMatch {
  const order = detections.map((_, i) => i).sort((a, b) => detections[b].score - detections[a].score || a - b);
  const matchedScore: Array<number | undefined> = new Array(faces.length).fill(undefined);
  const out: MatchedDetection[] = [];
  for (const i of order) {
    const det = detections[i];
    let best = -1;
    let bestIou = iouThreshold;
    for (let f = 0; f < faces.length; f++) {
      if (matchedScore[f] !== undefined) continue;
      const overlap = iou(det.box, faces[f].box);
      if (overlap >= bestIou && (best < 0 || overlap > bestIou)) {
        best = f;
        bestIou = overlap;
      }
    }
    if (best >= 0) {
      matchedScore[best] = det.score;
      out.push({ score: det.score, outcome: 'tp', face: best });
    } else if (ignore.some((region) => iou(det.box, region) >= iouThreshold || insideFraction(det.box, region) >= IGNORE_INSIDE_FRACTION)) {
      out.push({ score: det.score, outcome: 'ignored' });
    } else {
      out.push({ score: det.score, outcome: 'fp' });
    }
  }
  return { detections: out, matchedScore };
}

/** Share of `box`'s area that lies inside `region` (0 for a box without area). */
export function insideFraction(box: readonly number[], region: readonly number[]): number {
  const area = (box[2] - box[0]) * (box[3] - box[1]);
  if (!(area > 0)) return 0;
  const iw = Math.max(0, Math.min(box[2], region[2]) - Math.max(box[0], region[0]));
  const ih = Math.max(0, Math.min(box[3], region[3]) - Math.max(box[1], region[1]));
  return (iw * ih) / area;
}
