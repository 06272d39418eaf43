import type { Face } from '../detectors/detector';
import { greedyNms } from '../detectors/nms';
import type { TileView } from '../imaging/tile-image';

/** Canvas pixels from a tile's inner edge within which a face counts as cut by it. */
const EDGE_MARGIN_PX = 2;

/**
 * Whether a face found in a tile touches one of the tile's inner edges: such a face may be cut in
 * two, and the neighbouring tile (or, for a face larger than the overlap, the whole-image view) sees
 * it whole.
 */
export function touchesInnerEdge(face: Face, tile: Pick<TileView, 'window' | 'inner' | 'letterbox'>): boolean {
  const m = EDGE_MARGIN_PX / tile.letterbox.scale;
  const [x1, y1, x2, y2] = tile.window;
  const [bx1, by1, bx2, by2] = face.box;
  return (
    (tile.inner.left && bx1 <= x1 + m) ||
    (tile.inner.top && by1 <= y1 + m) ||
    (tile.inner.right && bx2 >= x2 - m) ||
    (tile.inner.bottom && by2 >= y2 - m)
  );
}

/**
 * Merges the faces of the whole-image view and of each tile (all in original pixels): faces cut by
 * an inner tile edge are dropped, the rest go through one greedy NMS at `iouThreshold` (pixel-inclusive,
 * as the detectors' own NMS) and the cap. Best first. Without tiles the whole view's faces are returned
 * as they are (the detector already suppressed and capped them).
 */
export function mergeTileFaces(whole: Face[], tiles: Array<{ tile: Pick<TileView, 'window' | 'inner' | 'letterbox'>; faces: Face[] }>, iouThreshold: number, maxDetections: number): Face[] {
  if (tiles.length === 0) return whole;
  const all = [...whole];
  for (const { tile, faces } of tiles) for (const f of faces) if (!touchesInnerEdge(f, tile)) all.push(f);
  return greedyNms(all, iouThreshold, maxDetections, true);
}
