import { createHash } from 'node:crypto';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DecodeOptions } from '../detectors/detector';
import { detectImage } from '../engine/detect-image';
import type { DetectionEngine } from '../engine/detection-engine';
import { DetectionResult, RESULT_SCHEMA_ID } from '../queue/result';
import { validateKey } from '../storage/key';
import type { Admission, Slot } from './admission';
import { ApiError } from './api-error';
import { detectQuerySchema, errorSchema, resultSchema } from './route-schemas';

/** What the detection route needs. */
export interface DetectRouteOptions {
  engine: DetectionEngine;
  admission: Admission;
  /** Largest body (raw or the one file), bytes. */
  maxBytes: number;
  /** Largest decoded image, pixels. */
  maxPixels: number;
  /** Written as `worker` into results. */
  workerId: string;
  /** Why detection cannot be served now, or `undefined` when it can. */
  notReady: () => string | undefined;
}

/** Decode overrides and the echoed name, from the query string or multipart fields. */
export interface DetectParams {
  model?: string;
  scoreThreshold?: number;
  iouThreshold?: number;
  maxFaces?: number;
  name?: string;
}

/** Content types whose body is the image itself. */
const RAW_TYPES = /^(application\/octet-stream|image\/[A-Za-z0-9.+-]+)$/;

interface Upload {
  body?: unknown;
  params: DetectParams;
  filename?: string;
}

interface SlotHolder {
  slot: Slot;
  admittedAt: number;
  handling: boolean;
  closed: boolean;
}

/**
 * `POST /v1/detect`: one image in (raw bytes with an image content type, or multipart with one file),
 * the result document out. Every request goes through admission control before its body is read, then
 * through the shared engine's micro-batcher, so concurrent callers share `session.run`s.
 */
export async function detectRoute(app: FastifyInstance, options: DetectRouteOptions): Promise<void> {
  const { engine, admission } = options;
  const holders = new WeakMap<FastifyRequest, SlotHolder>();

  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: options.maxBytes }, (_req, body, done) => done(null, body));
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: options.maxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 100 },
  });

  const admit = async (req: FastifyRequest, reply: FastifyReply) => {
    const why = options.notReady();
    if (why) throw new ApiError('E_NOT_READY', `not ready: ${why}`, { retryAfterS: 1 });
    const holder: SlotHolder = { slot: await admission.acquire(), admittedAt: performance.now(), handling: false, closed: false };
    holders.set(req, holder);
    // The slot is freed when the handler is done, or when the exchange ends without reaching it
    // (body too large, client gone): whichever comes last.
    reply.raw.once('close', () => {
      holder.closed = true;
      if (!holder.handling) holder.slot.release();
    });
  };

  app.post(
    '/v1/detect',
    {
      onRequest: admit,
      bodyLimit: options.maxBytes,
      schema: {
        summary: 'Detect faces in one image',
        description:
          'The body is the image: raw bytes with an image/* or application/octet-stream content type, or multipart/form-data with one file (fields may carry the query parameters). Concurrent requests are batched together.',
        tags: ['detect'],
        querystring: detectQuerySchema,
      },
      config: {
        openapi: {
          requestBody: {
            required: true,
            content: {
              'image/*': { schema: { type: 'string', format: 'binary' } },
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
              'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' }, ...detectQuerySchema.properties } } },
            },
          },
          responses: {
            200: resultSchema,
            400: errorSchema,
            413: errorSchema,
            415: errorSchema,
            422: errorSchema,
            429: errorSchema,
            503: errorSchema,
          },
        },
      },
    },
    async (req, reply) => {
      const holder = holders.get(req)!;
      holder.handling = true;
      try {
        const downloadMs = performance.now() - holder.admittedAt;
        const upload: Upload = req.isMultipart() ? await readMultipart(req) : { body: req.body, params: {} };
        const params: DetectParams = { ...upload.params, ...(req.query as DetectParams) };
        if (upload.body !== undefined && !Buffer.isBuffer(upload.body)) {
          // Text or JSON, parsed by Fastify's default parsers: not an image whatever it says.
          throw new ApiError('E_UNSUPPORTED_FORMAT', `a ${String(req.headers['content-type']).split(';')[0]} body is not an image: send the image bytes as image/* or application/octet-stream, or one file as multipart/form-data`);
        }
        if (!upload.body || upload.body.length === 0) {
          throw new ApiError('E_BAD_REQUEST', 'no image in the request: send the image bytes as the body, or one file as multipart/form-data');
        }
        const result = await detect(upload.body, params, { downloadMs, runId: `sync-${req.id}`, filename: upload.filename });
        reply.header('cache-control', 'no-store');
        return result;
      } finally {
        holder.handling = false;
        holder.slot.release();
      }
    },
  );

  async function detect(body: Buffer, params: DetectParams, ctx: { downloadMs: number; runId: string; filename?: string }): Promise<DetectionResult> {
    const { detector } = engine;
    if (params.model !== undefined && params.model !== detector.id) {
      throw new ApiError('E_BAD_REQUEST', `this server runs model ${detector.id}, not ${params.model}`);
    }
    const overrides: Partial<DecodeOptions> & { maxFaces?: number } = {
      ...(params.scoreThreshold !== undefined ? { scoreThreshold: params.scoreThreshold } : {}),
      ...(params.iouThreshold !== undefined ? { iouThreshold: params.iouThreshold } : {}),
      ...(params.maxFaces !== undefined ? { maxFaces: params.maxFaces } : {}),
    };
    const key = resultKey(params.name, ctx.filename);
    const det = await detectImage(engine, body, { maxPixels: options.maxPixels }, overrides);
    return {
      schema: RESULT_SCHEMA_ID,
      key,
      source: { url: `upload:${key}`, etag: createHash('sha256').update(body).digest('hex').slice(0, 32), size: body.length },
      model: { id: detector.id, version: detector.version },
      image: det.image,
      faces: det.faces,
      timings: {
        downloadMs: r2(ctx.downloadMs),
        decodeMs: r2(det.decodeMs),
        inferenceMs: r2(det.inferenceMs),
        postprocessMs: r2(det.postprocessMs),
        batchSize: det.batchSize,
      },
      runId: ctx.runId,
      worker: options.workerId,
      createdAt: new Date().toISOString(),
    };
  }
}

/**
 * Reads a multipart body: exactly one file (its bytes, at most the size limit) and optional fields
 * carrying the query parameters. A second file is refused by the parser's `files: 1` limit.
 */
async function readMultipart(req: FastifyRequest): Promise<Upload> {
  const fields: Record<string, string> = {};
  let body: Buffer | undefined;
  let filename: string | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (body) throw new ApiError('E_BAD_REQUEST', 'send one file per request');
        body = await part.toBuffer();
        filename = part.filename || undefined;
      } else if (typeof part.value === 'string') {
        fields[part.fieldname] = part.value;
      }
    }
  } catch (err) {
    throw multipartError(err);
  }
  return { body, params: parseFields(fields), filename };
}

/**
 * The multipart parser's own errors (a missing or bogus boundary, a body that ends mid-part) carry no
 * code: they are the body's fault, so 400. Errors with a code (limits, Fastify's) and ours pass through.
 */
function multipartError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' || !(err instanceof Error)) return err;
  return new ApiError('E_BAD_REQUEST', `malformed multipart/form-data body (${err.message})`, { cause: err });
}

/**
 * The result `key` of an upload: the `name` parameter, else the file name, else `upload`. It must be a
 * valid object key (no control characters, `..` or leading `/`), like every result key.
 */
function resultKey(name: string | undefined, filename: string | undefined): string {
  const key = name ?? filename ?? 'upload';
  try {
    validateKey(key);
  } catch (err) {
    const what = name !== undefined ? 'name' : 'the uploaded file name';
    throw new ApiError('E_BAD_KEY', `${what} cannot be a result key: ${(err as Error).message}${name === undefined ? '; give a name' : ''}`, { cause: err });
  }
  return key;
}

/** Multipart fields → parameters, with the same limits as the query string's schema. */
export function parseFields(fields: Record<string, string>): DetectParams {
  const out: DetectParams = {};
  for (const [name, raw] of Object.entries(fields)) {
    const value = raw.trim();
    switch (name) {
      case 'model':
        if (!['retinaface', 'blazeface', 'mogface'].includes(value)) throw bad(name, 'retinaface, blazeface or mogface', raw);
        out.model = value;
        break;
      case 'scoreThreshold':
      case 'iouThreshold': {
        const n = Number(value);
        if (value === '' || !Number.isFinite(n) || n < 0 || n > 1) throw bad(name, 'a number from 0 to 1', raw);
        out[name] = n;
        break;
      }
      case 'maxFaces': {
        const n = Number(value);
        if (!/^\d+$/.test(value) || n < 1 || n > 10000) throw bad(name, 'an integer from 1 to 10000', raw);
        out.maxFaces = n;
        break;
      }
      case 'name':
        if (value === '' || value.length > 1024) throw bad(name, '1 to 1024 characters', raw);
        out.name = value;
        break;
      default:
        throw new ApiError('E_BAD_REQUEST', `unknown field ${JSON.stringify(name)} (expected a file and optionally model, scoreThreshold, iouThreshold, maxFaces, name)`);
    }
  }
  return out;
}

function bad(field: string, expected: string, given: string): ApiError {
  return new ApiError('E_BAD_REQUEST', `field ${field}: expected ${expected}, given ${JSON.stringify(given.slice(0, 100))}`);
}

function r2(ms: number): number {
  return Math.round(ms * 100) / 100;
}
