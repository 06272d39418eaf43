import type { DecodeOptions, Face } from '../detectors/detector';
import type { ImageLimits } from '../imaging/probe-image';
import { prepareImage } from '../imaging/prepare-image';
import type { DetectionEngine } from './detection-engine';
import { mergeTileFaces } from './merge-tiles';

/** Faces of one encoded image with its upright size and per-stage timings. */
export interface ImageDetection {
  faces: Face[];
  image: { width: number; height: number; format: string };
  decodeMs: number;
  inferenceMs: number;
  postprocessMs: number;
  batchSize: number;
  /** Canvases the image was detected on: 1, or 1 + its tiles. */
  views: number;
}

/**
 * Decodes, letterboxes and detects one encoded image through the engine's batcher: the common path of
 * the queue worker, `facefleet detect` and the demo. Throws classified errors (`E_DECODE`,
 * `E_UNSUPPORTED_FORMAT`, `E_TOO_LARGE`, `E_INFERENCE`).
 */
export async function detectImage(
  engine: DetectionEngine,
  body: Buffer,
  limits: ImageLimits,
  overrides: Partial<DecodeOptions> & { maxFaces?: number } = {},
  tag?: string,
): Promise<ImageDetection> {
  let decodeMs = 0;
  const prepared = await engine.decodeSlot(async () => {
    const t0 = performance.now();
    const p = await prepareImage(body, engine.detector.input, limits, engine.tiling);
    decodeMs = performance.now() - t0;
    return p;
  });
  const { maxFaces, ...decode } = overrides;
  const { tiles = [], ...whole } = prepared;
  // Tiles share the whole view's canvas size, so they batch with it and with other images.
  const [out, ...tileOuts] = await Promise.all([whole, ...tiles].map((view) => engine.detect(view, decode, tag)));
  const { iouThreshold, maxDetections } = engine.decodeOptions(decode);
  const faces = mergeTileFaces(out.faces, tiles.map((tile, i) => ({ tile, faces: tileOuts[i].faces })), iouThreshold, maxDetections);
  return {
    faces: maxFaces ? faces.slice(0, maxFaces) : faces,
    image: { width: prepared.letterbox.width, height: prepared.letterbox.height, format: prepared.format },
    decodeMs,
    inferenceMs: Math.max(out.inferenceMs, ...tileOuts.map((o) => o.inferenceMs)),
    postprocessMs: out.postprocessMs + tileOuts.reduce((sum, o) => sum + o.postprocessMs, 0),
    views: 1 + tiles.length,
    batchSize: out.batchSize,
  };
}
