import type { RawTensor } from './detector';
import { Candidate, greedyNms, topK } from './nms';

/**
 * Shared parts of the anchor-based (SSD-style) face detectors, MogFace and RetinaFace: the prior
 * grid of a canvas, delta decoding against it, and the threshold → top-k → NMS flow.
 */

/** One pyramid level of a prior layout: its stride and the prior sizes at every position. */
export interface PriorLevelSpec {
  /** Stride in canvas pixels, a power of two. */
  readonly stride: number;
  /** Square prior sides in canvas pixels, innermost in the output order. */
  readonly sizes: readonly number[];
}

/** One pyramid level on a given canvas. */
export interface PriorLevel {
  stride: number;
  /** Feature-map height and width (positions). */
  height: number;
  width: number;
  /** Index of the level's first prior in the concatenated outputs. */
  offset: number;
}

/**
 * Feature-map sizes per level: starting from the canvas size, halve with ceiling
 * (`h = (h + 1) >> 1`) log2(stride) times, as strided convolutions with padding do. For a power-of-two
 * stride this equals `ceil(h / stride)`, the reference RetinaFace prior box's formula.
 */
export function priorLevels(height: number, width: number, levels: ReadonlyArray<{ stride: number; sizes?: readonly number[] }>): PriorLevel[] {
  const out: PriorLevel[] = [];
  let h = height;
  let w = width;
  let s = 1;
  let offset = 0;
  for (const { stride, sizes } of levels) {
    while (s < stride) {
      h = (h + 1) >> 1;
      w = (w + 1) >> 1;
      s *= 2;
    }
    out.push({ stride, height: h, width: w, offset });
    offset += h * w * (sizes?.length ?? 1);
  }
  return out;
}

/** Number of priors of a canvas: Σ h·w·|sizes| over the levels. */
export function priorCount(height: number, width: number, levels: readonly PriorLevelSpec[]): number {
  return priorLevels(height, width, levels).reduce((sum, l, i) => sum + l.height * l.width * levels[i].sizes.length, 0);
}

/**
 * Priors of a canvas as a flat `Float64Array` of `(cx, cy, w, h)` quadruples in canvas pixels, in
 * output order: levels in order, positions row-major (y then x), sizes innermost. The centre of
 * position (i, j) is ((j + 0.5)·stride, (i + 0.5)·stride). Float64 keeps the decode identical to
 * numpy references.
 */
export function generatePriors(height: number, width: number, levels: readonly PriorLevelSpec[]): Float64Array {
  const grid = priorLevels(height, width, levels);
  const out = new Float64Array(priorCount(height, width, levels) * 4);
  let k = 0;
  grid.forEach((level, li) => {
    const { sizes } = levels[li];
    for (let i = 0; i < level.height; i++) {
      const cy = (i + 0.5) * level.stride;
      for (let j = 0; j < level.width; j++) {
        const cx = (j + 0.5) * level.stride;
        for (const side of sizes) {
          out[k++] = cx;
          out[k++] = cy;
          out[k++] = side;
          out[k++] = side;
        }
      }
    }
  });
  return out;
}

/**
 * Priors per canvas size, generated on first use and then reused: a worker uses one or two canvases
 * (the whole-image view and the tiles), so the cache normally holds few entries; `maxEntries` bounds it.
 */
export class PriorCache {
  private readonly entries = new Map<string, Float64Array>();

  constructor(
    private readonly levels: readonly PriorLevelSpec[],
    private readonly maxEntries = 8,
  ) {}

  /** Priors of a `height`×`width` canvas (see {@link generatePriors}). */
  get(height: number, width: number): Float64Array {
    const key = `${height}x${width}`;
    let priors = this.entries.get(key);
    if (!priors) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
      priors = generatePriors(height, width, this.levels);
      this.entries.set(key, priors);
    }
    return priors;
  }
}

/** How deltas are turned into boxes. */
export interface DeltaCoding {
  /** Centre and size variances: RetinaFace (0.1, 0.2); MogFace (1, 1). */
  readonly variances: readonly [number, number];
  /** Pixel-inclusive corners (`x2 = x1 + w − 1`, Caffe-era MogFace) or continuous ones (`x2 = x1 + w`). */
  readonly pixelInclusive: boolean;
}

/**
 * Decodes the box of prior `k` from its 4 deltas at `deltas[d … d+3]`:
 * centre = prior centre + δ·v0·prior size, size = prior size · exp(δ·v1).
 */
export function decodeBox(priors: Float64Array, k: number, deltas: Float32Array, d: number, coding: DeltaCoding): [number, number, number, number] {
  const p = k * 4;
  const pw = priors[p + 2];
  const ph = priors[p + 3];
  const [v0, v1] = coding.variances;
  const cx = priors[p] + deltas[d] * v0 * pw;
  const cy = priors[p + 1] + deltas[d + 1] * v0 * ph;
  const w = pw * Math.exp(deltas[d + 2] * v1);
  const h = ph * Math.exp(deltas[d + 3] * v1);
  if (coding.pixelInclusive) {
    const x0 = cx - (w - 1) / 2;
    const y0 = cy - (h - 1) / 2;
    return [x0, y0, x0 + w - 1, y0 + h - 1];
  }
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

/** Score selection settings of {@link selectAndSuppress}. */
export interface SelectOptions {
  scoreThreshold: number;
  preNmsTopK: number;
  iouThreshold: number;
  maxDetections: number;
  pixelInclusive: boolean;
}

/**
 * The SSD post-processing flow shared by the anchor-based detectors: priors whose score (read with
 * `scoreAt`) is strictly above the threshold, the best `preNmsTopK` of them, each turned into a
 * candidate by `build`, then greedy NMS and the cap.
 */
export function selectAndSuppress(
  count: number,
  scoreAt: (k: number) => number,
  build: (k: number, score: number) => Candidate,
  options: SelectOptions,
): Candidate[] {
  const passed: Array<{ score: number; k: number }> = [];
  for (let k = 0; k < count; k++) {
    const score = scoreAt(k);
    if (score > options.scoreThreshold) passed.push({ score, k });
  }
  const candidates = topK(passed, options.preNmsTopK).map(({ score, k }) => build(k, score));
  return greedyNms(candidates, options.iouThreshold, options.maxDetections, options.pixelInclusive);
}

/**
 * The output `name` of an anchor-based detector, checked to be `[N, priors, channels]` with data for
 * every element; `fail` turns a message into the detector's error (`E_MODEL`), which names the canvas.
 */
export function priorOutput(
  outputs: Record<string, RawTensor>,
  name: string,
  priors: number,
  channels: number,
  canvas: { width: number; height: number },
  fail: (message: string) => Error,
): RawTensor {
  const t = outputs[name];
  if (!t) throw fail(`output '${name}' missing (got ${Object.keys(outputs).join(', ') || 'none'})`);
  if (t.dims.length !== 3 || t.dims[1] !== priors || t.dims[2] !== channels) {
    throw fail(`output '${name}' has dims [${t.dims.join(', ')}], expected [N, ${priors}, ${channels}] for a ${canvas.width}x${canvas.height} canvas`);
  }
  if (t.data.length < t.dims[0] * priors * channels) throw fail(`output '${name}' data is shorter than its dims`);
  return t;
}
