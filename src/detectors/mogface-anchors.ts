import { generatePriors, PriorCache, PriorLevelSpec, priorLevels } from './ssd-priors';

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

/** The spec as the shared prior layout: one square anchor of side base · scale per position. */
export function mogfacePriorLevels(spec: AnchorSpec): PriorLevelSpec[] {
  return spec.strides.map((stride, i) => ({ stride, sizes: [spec.bases[i] * spec.scale] }));
}

/**
 * Feature-map sizes per level: starting from the canvas size, halve with ceiling
 * (`h = (h + 1) >> 1`) log2(stride) times, as the strided convolutions with padding do.
 */
export function anchorLevels(height: number, width: number, strides: readonly number[]): AnchorLevel[] {
  return priorLevels(height, width, strides.map((stride) => ({ stride })));
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
  return generatePriors(height, width, mogfacePriorLevels(spec));
}

/**
 * Anchors per canvas size, generated on first use and then reused (see `PriorCache`).
 */
export class AnchorCache extends PriorCache {
  constructor(spec: AnchorSpec, maxEntries = 8) {
    super(mogfacePriorLevels(spec), maxEntries);
  }
}
