/** Tiling settings: how much extra detail a large photo may buy. */
export interface TilingOptions {
  /**
   * Most tiles per image besides the whole-image view; 0 turns tiling off.
   * @defaultValue 4
   */
  maxTiles: number;
  /**
   * Overlap of neighbouring tiles as a fraction of the canvas side: a face up to this size (in tile
   * pixels) lies whole inside at least one tile.
   * @defaultValue 0.2
   */
  overlap: number;
  /**
   * Tiles are used only when they see the image at least this many times larger than the
   * whole-image view does.
   * @defaultValue 1.3
   */
  minGain: number;
}

/** Defaults of {@link TilingOptions}. */
export const DEFAULT_TILING: TilingOptions = Object.freeze({ maxTiles: 4, overlap: 0.2, minGain: 1.3 });

/** One tile: a canvas-sized window of the image scaled by the plan's `scale`. */
export interface Tile {
  /** Left and top of the window in scaled pixels. */
  x: number;
  y: number;
  /** Which sides of the window are inside the image (a neighbouring tile continues there). */
  inner: { left: boolean; top: boolean; right: boolean; bottom: boolean };
}

/** How one image is covered: the whole-image view always, tiles of a finer scale when they help. */
export interface TilePlan {
  /** Scale of the tiles (scaled pixels per original pixel, at most 1); 0 when there are no tiles. */
  scale: number;
  /** Scaled image size the tiles are cut from. */
  scaledWidth: number;
  scaledHeight: number;
  tiles: Tile[];
}

/** Positions of `count` windows of `side` covering `length`, evenly spread, first at 0, last flush. */
function spread(length: number, side: number, count: number): number[] {
  if (count <= 1 || length <= side) return [0];
  const step = (length - side) / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(i * step));
}

/** Windows of `side` with `overlap` pixels shared that `length` needs. */
function windowsFor(length: number, side: number, overlap: number): number {
  return length <= side ? 1 : Math.ceil((length - overlap) / (side - overlap));
}

/**
 * Plans the tiles of a `width × height` image for a square `canvas`: among the grids of at most
 * `maxTiles` tiles, the one that sees the image at the largest scale (never above 1: tiles do not
 * upsample), each tile overlapping its neighbours by `overlap · canvas` pixels. No tiles when the
 * whole-image view already sees the image at nearly that scale (`minGain`). Pure.
 */
export function planTiles(width: number, height: number, canvas: number, options: TilingOptions = DEFAULT_TILING): TilePlan {
  const none: TilePlan = { scale: 0, scaledWidth: 0, scaledHeight: 0, tiles: [] };
  if (options.maxTiles < 2) return none;
  const overlapPx = Math.round(options.overlap * canvas);
  const span = (n: number) => n * (canvas - overlapPx) + overlapPx;
  const whole = Math.min(canvas / width, canvas / height);
  let best = { scale: 0, cols: 1, rows: 1 };
  for (let cols = 1; cols <= options.maxTiles; cols++) {
    const rows = Math.floor(options.maxTiles / cols);
    const scale = Math.min(1, span(cols) / width, span(rows) / height);
    if (scale > best.scale + 1e-9) best = { scale, cols, rows };
  }
  if (best.scale < whole * options.minGain) return none;
  const scaledWidth = Math.max(1, Math.round(width * best.scale));
  const scaledHeight = Math.max(1, Math.round(height * best.scale));
  const cols = windowsFor(scaledWidth, canvas, overlapPx);
  const rows = windowsFor(scaledHeight, canvas, overlapPx);
  const xs = spread(scaledWidth, canvas, cols);
  const ys = spread(scaledHeight, canvas, rows);
  const tiles: Tile[] = [];
  ys.forEach((y, r) =>
    xs.forEach((x, c) =>
      tiles.push({ x, y, inner: { left: c > 0, top: r > 0, right: c < xs.length - 1, bottom: r < ys.length - 1 } }),
    ),
  );
  return tiles.length < 2 ? none : { scale: best.scale, scaledWidth, scaledHeight, tiles };
}
