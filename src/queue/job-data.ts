import crypto from 'node:crypto';
import { z } from 'zod';
import { FacefleetError } from '../errors';

/** The BullMQ job name of every detection job. */
export const JOB_NAME = 'detect';

/** Version of the job payload contract; bumped on incompatible changes. */
export const JOB_SCHEMA_VERSION = 1;

/** Longest run id, characters: a run id is part of Redis keys. */
export const MAX_RUN_ID_LENGTH = 128;

/** What a run id is made of: letters, digits, dot, underscore, dash; 1 to {@link MAX_RUN_ID_LENGTH} characters. */
export const RUN_ID_PATTERN = new RegExp(`^[A-Za-z0-9._-]{1,${MAX_RUN_ID_LENGTH}}$`);

/** True when `runId` is a valid run id (see {@link RUN_ID_PATTERN}). */
export function isRunId(runId: unknown): runId is string {
  return typeof runId === 'string' && RUN_ID_PATTERN.test(runId);
}

/** Per-job overrides of the detector's decode settings. */
export const jobOptionsSchema = z
  .object({
    scoreThreshold: z.number().min(0).max(1).optional().describe('Minimum face score kept.'),
    iouThreshold: z.number().min(0).max(1).optional().describe('NMS IoU threshold.'),
    maxFaces: z.number().int().min(1).max(10000).optional().describe('At most this many faces in the result.'),
  })
  .strict();

/**
 * The job payload: a small, versioned JSON object any producer (TypeScript, Python, …) can write.
 * `source` and `results` are location URLs (`s3://bucket/key`, `file:///abs/path`).
 */
export const jobDataSchema = z
  .object({
    v: z.literal(JOB_SCHEMA_VERSION).describe('Contract version; always 1.'),
    source: z.string().min(1).max(2048).describe('URL of the image: s3://bucket/key or file:///abs/path.'),
    results: z.string().min(1).max(2048).describe('URL of the results location; the result is written to <results>/<key>.json.'),
    runId: z.string().regex(RUN_ID_PATTERN).describe('Run id: letters, digits, dot, underscore, dash.'),
    model: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/).describe('Model id, e.g. retinaface, blazeface or mogface.'),
    key: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe('Result name relative to `results` (default: the source object key). Producers set it relative to the enqueued prefix.'),
    incremental: z.boolean().optional().describe('Skip when a result for the same source ETag and model version exists.'),
    options: jobOptionsSchema.optional(),
  })
  .strict();

/** A validated job payload. */
export type JobData = z.infer<typeof jobDataSchema>;

/** Per-job decode overrides. */
export type JobOptions = z.infer<typeof jobOptionsSchema>;

/** Validates an unknown payload; throws `E_BAD_JOB` naming the offending fields. */
export function parseJobData(raw: unknown): JobData {
  const parsed = jobDataSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
  throw new FacefleetError('E_BAD_JOB', `job payload does not match contract v${JOB_SCHEMA_VERSION}: ${detail}`);
}

/**
 * The deterministic job id of (source, model, runId): enqueueing the same image twice in a run is a
 * no-op because BullMQ ignores an add whose id already exists.
 */
export function jobIdFor(source: string, model: string, runId: string): string {
  return `ff-${sha256Hex(`${source}\n${model}\n${runId}`).slice(0, 40)}`;
}

/**
 * SHA-256 of a string, hex: Node's one-shot `crypto.hash` (20.12 and later) where there is one, half
 * the cost of a `Hash` object per id; the same digest either way.
 */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');
