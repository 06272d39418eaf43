import { z } from 'zod';
import { FacefleetError } from '../errors';
import { DetectionResult, RESULT_SCHEMA_ID } from './result';

const pixels = z.number().describe('Pixels of the upright original image.');
const millis = z.number().min(0).describe('Milliseconds.');

/** One detected face, as {@link Face} in src/detectors/detector.ts. */
export const faceSchema = z
  .object({
    box: z.tuple([pixels, pixels, pixels, pixels]).describe('[x1, y1, x2, y2]: top-left and bottom-right corners, in pixels.'),
    score: z.number().min(0).max(1).describe('Confidence in [0, 1].'),
    landmarks: z
      .array(z.tuple([pixels, pixels]))
      .optional()
      .describe('Keypoints as [x, y] pairs (BlazeFace: right eye, left eye, nose, mouth, right ear, left ear).'),
  })
  .strict();

/** Per-stage wall time of one image, as {@link StageTimings}. */
export const stageTimingsSchema = z
  .object({
    downloadMs: millis,
    decodeMs: millis,
    inferenceMs: millis.describe('Time waiting in the micro-batcher plus the batch inference, ms.'),
    postprocessMs: millis,
    batchSize: z.number().int().min(1).describe('Size of the batch the image ran in.'),
  })
  .strict();

/**
 * The result file `<results>/<key>.json`, exactly as {@link DetectionResult}: a reader in any language
 * validates against the JSON Schema generated from this (schemas/result.v1.schema.json).
 */
export const resultSchema = z
  .object({
    schema: z.literal(RESULT_SCHEMA_ID).describe('Schema id of the result; always the v1 id.'),
    key: z.string().min(1).describe('Result name relative to the results location (without `.json`).'),
    source: z
      .object({
        url: z.string().min(1).describe('Location URL of the image.'),
        etag: z.string().describe('ETag of the source object the result was made from.'),
        size: z.number().int().min(0).describe('Size of the source object in bytes.'),
      })
      .strict(),
    model: z
      .object({
        id: z.string().min(1).describe('Model id, e.g. retinaface.'),
        version: z.string().min(1).describe('Model version (part of incremental-skip decisions).'),
      })
      .strict(),
    image: z
      .object({
        width: z.number().int().min(1).describe('Upright width in pixels (after EXIF orientation).'),
        height: z.number().int().min(1).describe('Upright height in pixels (after EXIF orientation).'),
        format: z.string().min(1).describe('Decoded format, e.g. jpeg or png.'),
      })
      .strict(),
    faces: z.array(faceSchema).describe('Detected faces, best first.'),
    timings: stageTimingsSchema,
    runId: z.string().min(1).describe('Run id of the job.'),
    worker: z.string().min(1).describe('Id of the worker that produced the result.'),
    createdAt: z.iso.datetime().describe('ISO-8601 UTC time the result was produced.'),
  })
  .strict();

/** The type parsed by {@link resultSchema}. */
export type ParsedResult = z.infer<typeof resultSchema>;

/**
 * `true` when A and B are the same type, `false` otherwise. Stricter than assignability both ways, which
 * an optional field present on one side only would still pass.
 */
type Identical<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * Compile-time proof that {@link resultSchema} and {@link DetectionResult} describe the same shape: a
 * field added, dropped or retyped on one side only makes the type `false`, and this no longer compiles.
 */
export const RESULT_SCHEMA_MATCHES_TYPE: Identical<ParsedResult, DetectionResult> = true;

/**
 * Validates a result file: its text (parsed as JSON first) or an already parsed value. Throws a
 * `FacefleetError` with code `E_DECODE` (the bytes cannot be read as a v1 result) whose message names
 * every offending field path, e.g. `faces.0.score: Too big: expected number to be <=1`.
 */
export function parseResult(json: unknown): DetectionResult {
  let raw: unknown = json;
  if (typeof json === 'string') {
    try {
      raw = JSON.parse(json);
    } catch (err) {
      // Not the parser's message: it quotes the bytes, which may be anyone's file.
      throw new FacefleetError('E_DECODE', 'result is not JSON', { cause: err });
    }
  }
  const parsed = resultSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(result)'}: ${i.message}`).join('; ');
  throw new FacefleetError('E_DECODE', `result does not match ${RESULT_SCHEMA_ID}: ${detail}`);
}
