import type { DecodeOptions, Face } from '../detectors/detector';
import type { ImageLimits } from '../imaging/probe-image';
import { prepareImage } from '../imaging/prepare-image';
import type { DetectionEngine } from './detection-engine';

/** Faces of one encoded image with its upright size and per-stage timings. */
export interface ImageDetection {
  faces: Face[];
  image: { width: number; height: number; format: string };
  decodeMs: number;
  inferenceMs: number;
  postprocessMs: number;
  batchSize: number;
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
  const t0 = performance.now();
  const prepared = await prepareImage(body, engine.detector.input, limits);
  const decodeMs = performance.now() - t0;
  const { maxFaces, ...decode } = overrides;
  const out = await engine.detect(prepared, decode, tag);
  return {
    faces: maxFaces ? out.faces.slice(0, maxFaces) : out.faces,
    image: { width: prepared.letterbox.width, height: prepared.letterbox.height, format: prepared.format },
    decodeMs,
    inferenceMs: out.inferenceMs,
    postprocessMs: out.postprocessMs,
    batchSize: out.batchSize,
  };
}
