import type { Letterbox } from '../detectors/detector';
import type { TileView } from './tile-image';

/** An image decoded and letterboxed onto the model's canvas. */
export interface PreparedImage {
  /** Canvas pixels, RGB, `width × height × 3` of the model input. */
  pixels: Uint8Array;
  letterbox: Letterbox;
  format: string;
  /** Tiles of a large photo, detected beside the whole view and merged into its faces. */
  tiles?: TileView[];
}
