import { readLocalFile } from '../storage/read-regular-file';
import { classify } from '../errors';
import type { ErrorCode } from '../errors';
import type { GtImage } from './ground-truth';
import type { ScoredBox } from './match-detections';

/** The detections of one annotated image, or why it could not be read or decoded. */
export interface CollectedImage {
  image: GtImage;
  /** Upright size of the decoded image (absent when it failed). */
  width?: number;
  height?: number;
  /** Detections, best first (empty when it failed). */
  faces: ScoredBox[];
  error?: { code: ErrorCode; message: string };
}

/** What {@link collectDetections} needs to detect one image. */
export interface CollectOptions {
  /** Detects faces in one encoded image (the engine's batcher behind it, with a low score threshold). */
  detect(body: Buffer, image: GtImage): Promise<{ faces: ScoredBox[]; image: { width: number; height: number } }>;
  /** Images in hand at once; a few times the batch size so batches fill. */
  concurrency: number;
  /** Largest image file read, bytes; a larger one fails with `E_TOO_LARGE`. */
  maxBytes: number;
  /**
   * Called once per image in annotation order, as soon as it and every image before it are done (for
   * writing results as they come while keeping the order). A returned promise (for example a
   * stream's drain) is awaited before that lane takes its next image.
   */
  onResult?(entry: CollectedImage, index: number): void | Promise<void>;
  /** Called after every image with the counts so far. */
  onProgress?(done: number, failed: number): void;
}

/**
 * Detects every annotated image, `concurrency` at a time. An image that cannot be read (missing, or
 * not a regular file: a FIFO never blocks it), is too large or does not decode is recorded with its error code and message and does not stop the others.
 * Resolves with one entry per image, in annotation order.
 */
export async function collectDetections(images: readonly GtImage[], options: CollectOptions): Promise<CollectedImage[]> {
  const results: CollectedImage[] = new Array(images.length);
  let next = 0;
  let reported = 0;
  let done = 0;
  let failed = 0;

  const one = async (image: GtImage): Promise<CollectedImage> => {
    try {
      const body = await readLocalFile(image.file, options.maxBytes);
      const det = await options.detect(body, image);
      return { image, width: det.image.width, height: det.image.height, faces: det.faces.map((f) => ({ box: f.box, score: f.score })) };
    } catch (err) {
      const e = classify(err);
      return { image, faces: [], error: { code: e.code, message: e.message } };
    }
  };

  const lane = async () => {
    while (next < images.length) {
      const i = next++;
      results[i] = await one(images[i]);
      done++;
      if (results[i].error) failed++;
      options.onProgress?.(done, failed);
      // Report every finished prefix synchronously, so entries reach onResult in order exactly once.
      const pending: Array<void | Promise<void>> = [];
      while (reported < images.length && results[reported] !== undefined) {
        pending.push(options.onResult?.(results[reported], reported));
        reported++;
      }
      await Promise.all(pending);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, images.length)) }, lane));
  return results;
}
