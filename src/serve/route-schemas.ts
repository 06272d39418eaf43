import { z } from 'zod';
import { resultSchema as resultContract } from '../queue/result-schema';
import { RUN_ID_PATTERN } from '../queue/job-data';

/**
 * JSON Schemas of the API's requests and answers. Fastify validates requests with them (Ajv); the
 * OpenAPI document at `/openapi.json` is built from the same objects, so the two cannot disagree.
 */

/** An object's JSON Schema, as far as this file reads it. */
type JsonObjectSchema = { type: 'object'; properties: Record<string, object>; [keyword: string]: unknown };

/** A location URL (`s3://bucket/…`, `file:///…`). */
const location = { type: 'string', pattern: '^(s3://|file:///)', maxLength: 2048 } as const;

/** The `{ code, message }` body of every error answer. */
export const errorSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', description: 'Stable error code, e.g. E_DECODE, E_OVERLOADED.' },
    message: { type: 'string', description: 'What went wrong, for people.' },
  },
} as const;

/** Decode overrides of a detection request (query string, or multipart fields). */
export const detectQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    model: { type: 'string', enum: ['retinaface', 'blazeface', 'mogface'], description: 'Model id; must be the model this server runs (default: that model).' },
    scoreThreshold: { type: 'number', minimum: 0, maximum: 1, description: "Minimum face score kept (default: the model's)." },
    iouThreshold: { type: 'number', minimum: 0, maximum: 1, description: 'NMS IoU threshold.' },
    maxFaces: { type: 'integer', minimum: 1, maximum: 10000, description: 'At most this many faces, best first.' },
    name: { type: 'string', minLength: 1, maxLength: 1024, description: 'Name echoed as the result `key` (default: the uploaded file name, or "upload").' },
  },
} as const;

/**
 * The detection result, exactly the document the queue workers write (schema id
 * `https://facefleet.dev/schemas/result/v1`): the JSON Schema generated from the contract's own zod
 * schema, as schemas/result.v1.schema.json is.
 */
export const resultSchema: JsonObjectSchema = (() => {
  const { $schema: _draft, ...body } = z.toJSONSchema(resultContract, { target: 'draft-2020-12', io: 'output' }) as JsonObjectSchema;
  return { ...body, description: 'The result document of the queue path (https://facefleet.dev/schemas/result/v1). Uploads: `source.url` is `upload:<name>`, `source.etag` a digest of the bytes, `runId` "sync-" and the request id, `timings.downloadMs` the time receiving the body.' };
})();

/** The faces of a result. */
const faceSchema = (resultSchema.properties.faces as { items: object }).items;

/** `POST /v1/jobs`: the producer's options, as JSON. */
export const jobsBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['results'],
  properties: {
    keys: { type: 'array', minItems: 1, maxItems: 10000, items: { type: 'string', minLength: 1, maxLength: 2048 }, description: 'Image URLs, or keys relative to `base`.' },
    prefix: { ...location, description: 'Enqueue every image under this prefix URL (listed in the background: the answer is 202).' },
    base: { ...location, description: 'Base URL of relative keys.' },
    results: { ...location, description: 'Results location URL.' },
    runId: { type: 'string', pattern: RUN_ID_PATTERN.source, description: 'Run id (default run-<UTC time>).' },
    model: { type: 'string', enum: ['retinaface', 'blazeface', 'mogface'], description: "Model the jobs ask for (default: this server's)." },
    incremental: { type: 'boolean', description: 'Skip images whose result exists for the same ETag and model version.' },
    priority: { type: 'integer', minimum: 1, maximum: 2097152, description: 'BullMQ priority (1 is highest).' },
  },
} as const;

/** The answer of `POST /v1/jobs`. */
export const jobsReplySchema = {
  type: 'object',
  required: ['runId', 'status'],
  properties: {
    runId: { type: 'string' },
    status: { type: 'string', enum: ['sealed', 'enqueuing'], description: '`sealed`: every key is queued; `enqueuing`: the prefix is being listed.' },
    enqueued: { type: 'integer' },
    duplicates: { type: 'integer', description: 'Keys already queued in this run.' },
  },
} as const;

/** A run with its progress. */
export const runSchema = {
  type: 'object',
  required: ['runId', 'total', 'done', 'skipped', 'failed', 'sealed', 'createdAt', 'failures', 'results', 'model', 'finished', 'progress', 'state', 'rate', 'etaSeconds', 'retryable'],
  properties: {
    runId: { type: 'string' },
    total: { type: 'integer' },
    done: { type: 'integer' },
    skipped: { type: 'integer' },
    failed: { type: 'integer' },
    sealed: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    failures: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Failures by code.' },
    results: { type: 'string' },
    model: { type: 'string' },
    finished: { type: 'integer' },
    progress: { type: 'number', minimum: 0, maximum: 1 },
    state: { type: 'string', enum: ['enqueuing', 'running', 'finished'] },
    rate: { type: ['number', 'null'], description: 'Images per second.' },
    etaSeconds: { type: ['number', 'null'] },
    retryable: { type: 'integer', description: 'Failed images whose code is transient: what POST /v1/runs/{id}/retry would send back.' },
    enqueueError: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, description: 'Why listing a prefix stopped, if it did.' },
  },
} as const;

/** `:id` of run routes. */
export const runParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: RUN_ID_PATTERN.source } },
} as const;

/** `:id` and the key (`*`) of result routes. */
export const resultParamsSchema = {
  type: 'object',
  required: ['id', '*'],
  properties: { id: runParamsSchema.properties.id, '*': { type: 'string', minLength: 1, maxLength: 1024 } },
} as const;

/** One entry of a results page. */
export const resultSummarySchema = {
  type: 'object',
  required: ['key', 'faces'],
  properties: {
    key: { type: 'string' },
    faces: { type: 'array', items: faceSchema },
    image: resultSchema.properties.image,
    model: resultSchema.properties.model,
    createdAt: { type: 'string' },
    error: errorSchema,
  },
} as const;
