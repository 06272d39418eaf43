/** The anchor layout of a MogFace model, as its manifest states it. */
export interface AnchorSpec {
  /** Level strides in input pixels, powers of two, in output order (MogFace: 4 … 128). */
  readonly strides: readonly number[];
  /** Anchor base size per level in input pixels (MogFace: 16 … 512). */
  readonly bases: readonly number[];
  /** Side multiplier: square anchor side = base · scale (MogFace: 0.68). */
  readonly scale: number;
}

/** One pyramid level on a given canvas. */
export interface AnchorLevel {
  stride: number;
  /** Feature-map height and width (positions). */
  height: number;
  width: number;
  /** Index of the level's first anchor in the concatenated outputs. */
  offset: number;
}

/**
 * Feature-map sizes per level: starting from the canvas size, halve with ceiling
 * (`h = (h + 1) >> 1`) log2(stride) times, as the strided convolutions with padding do.
 */
export function anchorLevels(height: number, width: number, strides: readonly number[]): AnchorLevel[] {
  const levels: AnchorLevel[] = [];
  let h = height;
  let w = width;
  let s = 1;
  let offset = 0;
  for (const stride of strides) {
    while (s < stride) {
      h = (h + 1) >> 1;
      w = (w + 1) >> 1;
      s *= 2;
    }
    levels.push({ stride, height: h, width: w, offset });
    offset += h * w;
  }
  return levels;
}

/** Number of anchors A (one per position) of a canvas: Σ h·w over the levels. 640×640 → 34,125. */
export function anchorCount(height: number, width: number, strides: readonly number[]): number {
  return anchorLevels(height, width, strides).reduce((sum, l) => sum + l.height * l.width, 0);
}

/**
 * Anchors of a canvas as a flat `Float64Array` of `(cx, cy, w, h)` quadruples, in output order:
 * levels in order, row-major (y then x) within a level. Centre of position (i, j) is
 * ((j + 0.5)·s, (i + 0.5)·s); the side is base · scale. The reference's pixel-inclusive corner round
 * trip is an identity and is skipped; float64 keeps the decode identical to the numpy reference.
 */
export function generateAnchors(height: number, width: number, spec: AnchorSpec): Float64Array {
  const levels = anchorLevels(height, width, spec.strides);
  const last = levels[levels.length - 1];
  const out = new Float64Array((last.offset + last.height * last.width) * 4);
  levels.forEach((level, li) => {
    const side = spec.bases[li] * spec.scale;
    let k = level.offset * 4;
    for (let i = 0; i < level.height; i++) {
      const cy = (i + 0.5) * level.stride;
      for (let j = 0; j < level.width; j++) {
        out[k++] = (j + 0.5) * level.stride;
        out[k++] = cy;
        out[k++] = side;
        out[k++] = side;
      }
    }
  });
  return out;
}

/**
 * Anchors per canvas size, generated on first use and then reused: a worker uses one canvas, so
 * the cache normally holds one entry; `maxEntries` bounds it if canvases vary.
 */
export class AnchorCache {
  private readonly entries = new Map<string, Float64Array>();

  constructor(
    private readonly spec: AnchorSpec,
    private readonly maxEntries = 8,
  ) {}

  /** Anchors of a `height`×`width` canvas (see {@link generateAnchors}). */
  get(height: number, width: number): Float64Array {
    const key = `${height}x${width}`;
    let anchors = this.entries.get(key);
    if (!anchors) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
      anchors = generateAnchors(height, width, this.spec);
      this.entries.set(key, anchors);
    }
    return anchors;
  }
}
