/** A candidate box in some pixel frame, with its score and optional keypoints. */
export interface Candidate {
  /** `[x1, y1, x2, y2]`. */
  box: [number, number, number, number];
  score: number;
  landmarks?: Array<[number, number]>;
}

/**
 * Intersection over union of two `[x1, y1, x2, y2]` boxes. With `pixelInclusive`, widths and heights
 * count both end pixels (`x2 - x1 + 1`), as Caffe-era detectors (MogFace's reference) do.
 */
export function iou(a: readonly number[], b: readonly number[], pixelInclusive = false): number {
  const one = pixelInclusive ? 1 : 0;
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + one);
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + one);
  const inter = iw * ih;
  if (inter <= 0) return 0;
  const areaA = (a[2] - a[0] + one) * (a[3] - a[1] + one);
  const areaB = (b[2] - b[0] + one) * (b[3] - b[1] + one);
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

/** Sorts best first and keeps at most `topK` (stable for equal scores). */
export function topK<T extends { score: number }>(candidates: T[], k: number): T[] {
  const sorted = candidates.slice().sort((a, b) => b.score - a.score);
  return sorted.length > k ? sorted.slice(0, k) : sorted;
}

/**
 * Greedy hard NMS: best first, a box is dropped when its IoU with a kept box is above `iouThreshold`.
 * Keeps at most `maxKeep` boxes.
 */
export function greedyNms<T extends Candidate>(
  candidates: T[],
  iouThreshold: number,
  maxKeep: number,
  pixelInclusive = false,
): T[] {
  const sorted = topK(candidates, candidates.length);
  const kept: T[] = [];
  for (const c of sorted) {
    if (kept.length >= maxKeep) break;
    if (kept.every((k) => iou(k.box, c.box, pixelInclusive) <= iouThreshold)) kept.push(c);
  }
  return kept;
}

/**
 * Weighted NMS (MediaPipe's `WEIGHTED` overlap algorithm): best first, every remaining box whose IoU
 * with the best is above `iouThreshold` joins its cluster; the cluster's box and keypoints are the
 * score-weighted mean of its members, its score the best member's. Keeps at most `maxKeep`.
 */
export function weightedNms(candidates: Candidate[], iouThreshold: number, maxKeep: number): Candidate[] {
  let remaining = topK(candidates, candidates.length);
  const out: Candidate[] = [];
  while (remaining.length > 0 && out.length < maxKeep) {
    const best = remaining[0];
    const cluster: Candidate[] = [];
    const rest: Candidate[] = [];
    for (const c of remaining) (iou(best.box, c.box) > iouThreshold || c === best ? cluster : rest).push(c);
    let total = 0;
    const box = [0, 0, 0, 0];
    const lm = best.landmarks ? best.landmarks.map(() => [0, 0]) : undefined;
    for (const c of cluster) {
      total += c.score;
      for (let i = 0; i < 4; i++) box[i] += c.box[i] * c.score;
      if (lm && c.landmarks) c.landmarks.forEach((p, i) => { lm[i][0] += p[0] * c.score; lm[i][1] += p[1] * c.score; });
    }
    out.push({
      box: box.map((v) => v / total) as [number, number, number, number],
      score: best.score,
      ...(lm ? { landmarks: lm.map(([x, y]) => [x / total, y / total] as [number, number]) } : {}),
    });
    remaining = rest;
  }
  return out;
}
