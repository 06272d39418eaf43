/**
 * Parameters of MediaPipe's `SsdAnchorsCalculator` that matter when anchors have a fixed size
 * (`fixed_anchor_size: true`, so every anchor is 1 × 1 in normalised units and only centres differ).
 */
export interface SsdAnchorOptions {
  /** Model input width and height in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** Stride of each SSD layer, in pixels; consecutive layers with the same stride share one feature map. */
  strides: readonly number[];
  /**
   * Anchors each layer adds to every cell of its feature map: one per aspect ratio, plus one when an
   * interpolated scale is used (MediaPipe's face detectors: aspect ratio 1.0 + interpolated = 2).
   */
  anchorsPerLayer: number;
  /** Offset of an anchor centre inside its cell, in cells (MediaPipe: 0.5, the cell centre). */
  anchorOffsetX: number;
  anchorOffsetY: number;
}

/** MediaPipe's published anchor parameters for the back-camera (full-range, 256 × 256) BlazeFace. */
export const BLAZEFACE_BACK_ANCHOR_OPTIONS: Readonly<SsdAnchorOptions> = Object.freeze({
  inputWidth: 256,
  inputHeight: 256,
  strides: Object.freeze([16, 32, 32, 32]),
  anchorsPerLayer: 2,
  anchorOffsetX: 0.5,
  anchorOffsetY: 0.5,
});

/** One feature map (a run of layers with the same stride) and where its anchors sit in the list. */
export interface AnchorGroup {
  stride: number;
  /** Feature-map size in cells. */
  cols: number;
  rows: number;
  /** Anchors per cell. */
  perCell: number;
  /** Index of this group's first anchor in {@link SsdAnchors.centers} (in anchors, not floats). */
  start: number;
  /** Number of anchors in this group (`cols × rows × perCell`). */
  count: number;
}

/** Anchor centres and how they group into feature maps. */
export interface SsdAnchors {
  /** `[cx, cy]` pairs in normalised canvas units ([0, 1]), in the model's output order. */
  centers: Float32Array;
  /** Total anchors (`centers.length / 2`). */
  count: number;
  groups: AnchorGroup[];
}

/**
 * Generates SSD anchor centres as MediaPipe's `SsdAnchorsCalculator` does with a fixed anchor size:
 * layers are grouped by equal consecutive stride; each group's feature map is
 * `ceil(input / stride)` cells per side, walked row by row, then column by column, then the
 * group's anchors of that cell. For the back BlazeFace model that is 16 × 16 cells × 2 = 512 anchors
 * at stride 16 followed by 8 × 8 × 6 = 384 at stride 32, matching its `[1, 512, …]` and `[1, 384, …]`
 * outputs (896 in all).
 */
export function generateSsdAnchors(options: Readonly<SsdAnchorOptions> = BLAZEFACE_BACK_ANCHOR_OPTIONS): SsdAnchors {
  const groups: AnchorGroup[] = [];
  let start = 0;
  for (let layer = 0; layer < options.strides.length; ) {
    const stride = options.strides[layer];
    let last = layer;
    while (last < options.strides.length && options.strides[last] === stride) last++;
    const cols = Math.ceil(options.inputWidth / stride);
    const rows = Math.ceil(options.inputHeight / stride);
    const perCell = (last - layer) * options.anchorsPerLayer;
    const count = cols * rows * perCell;
    groups.push({ stride, cols, rows, perCell, start, count });
    start += count;
    layer = last;
  }

  const centers = new Float32Array(start * 2);
  for (const g of groups) {
    let i = g.start * 2;
    for (let y = 0; y < g.rows; y++) {
      const cy = (y + options.anchorOffsetY) / g.rows;
      for (let x = 0; x < g.cols; x++) {
        const cx = (x + options.anchorOffsetX) / g.cols;
        for (let a = 0; a < g.perCell; a++) {
          centers[i++] = cx;
          centers[i++] = cy;
        }
      }
    }
  }
  return { centers, count: start, groups };
}
