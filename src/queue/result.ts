import type { Face } from '../detectors/detector';

/** Schema id of the result JSON, carried in every result file. */
export const RESULT_SCHEMA_ID = 'https://facefleet.dev/schemas/result/v1';

/** Per-stage wall time of one image, in milliseconds. */
export interface StageTimings {
  downloadMs: number;
  decodeMs: number;
  /** Time waiting in the micro-batcher plus the batch's inference. */
  inferenceMs: number;
  postprocessMs: number;
  /** Size of the batch the image ran in. */
  batchSize: number;
}

/** One result file, `<results>/<key>.json`. */
export interface DetectionResult {
  schema: typeof RESULT_SCHEMA_ID;
  key: string;
  source: { url: string; etag: string; size: number };
  model: { id: string; version: string };
  /** Upright image size (after EXIF orientation). */
  image: { width: number; height: number; format: string };
  faces: Face[];
  timings: StageTimings;
  runId: string;
  worker: string;
  /** ISO-8601 time the result was produced. */
  createdAt: string;
}

/** User metadata written with each result, so incremental runs decide from a HEAD alone. */
export interface ResultMetadata {
  'source-etag': string;
  'model-id': string;
  'model-version': string;
}

/** The metadata of a result. */
export function resultMetadata(result: DetectionResult): ResultMetadata {
  return { 'source-etag': result.source.etag, 'model-id': result.model.id, 'model-version': result.model.version };
}

/** The job's return value: a small summary (the full result lives in storage). */
export interface JobSummary {
  status: 'done' | 'skipped';
  key: string;
  result: string;
  faces: number;
}

/** Largest result document read back (incremental checks, `serve`, the demo), bytes: results are a few KiB. */
export const MAX_RESULT_BYTES = 16 * 1024 * 1024;
