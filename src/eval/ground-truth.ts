/** An axis-aligned box `[x1, y1, x2, y2]` in pixels of the upright image (`x2 = x1 + width`). */
export type Box = [number, number, number, number];

/** One annotated face. */
export interface GtFace {
  /** The face's box. */
  box: Box;
  /** Optional difficulty label from the annotations (for example `easy` or `hard`). */
  difficulty?: string;
}

/** The ground truth of one image. */
export interface GtImage {
  /** The image path as written in the annotations (relative to the images folder or the manifest). */
  name: string;
  /** The image path resolved against the images folder (WIDER) or the manifest's folder (JSON). */
  file: string;
  /** Faces a detector is expected to find. */
  faces: GtFace[];
  /** Regions where detections count neither as true nor as false positives (WIDER's invalid faces). */
  ignore: Box[];
}

/** Ground truth of an annotated photo set, in annotation order. */
export interface GroundTruth {
  /** Which annotation format it was read from. */
  format: 'wider' | 'manifest';
  /** The annotation file it was read from. */
  source: string;
  images: GtImage[];
  /** Entries left out on purpose (manifest entries with `expectError: true`). */
  skipped: number;
}
