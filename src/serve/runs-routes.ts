import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import sharp from 'sharp';
import { FacefleetError } from '../errors';
import { enqueueRun } from '../producer/enqueue-run';
import { fromPrefix, SourceKey, toSourceKey } from '../producer/key-sources';
import type { RedisClient } from '../queue/connection';
import { DEFAULT_JOB_POLICY } from '../queue/job-options';
import { DetectionResult, MAX_RESULT_BYTES } from '../queue/result';
import type { RunStatus, RunStore } from '../queue/run-store';
import { validateKey } from '../storage/key';
import { parseLocation } from '../storage/location';
import { LocationAllowList } from '../storage/location-allow-list';
import type { StoreRegistry } from '../storage/store-registry';
import { resultUrlFor } from '../worker/job-processor';
import { ApiError } from './api-error';
import { errorSchema, jobsBodySchema, jobsReplySchema, resultParamsSchema, resultSchema, resultSummarySchema, runParamsSchema, runSchema } from './route-schemas';
import type { BackgroundEnqueues } from './background-enqueues';
import { retryableCount, retryTransientFailures } from './run-retry';
import { RunRates, RunView } from './run-view';

/** What the run routes need. */
export interface RunsRoutesOptions {
  /** The BullMQ queue of each shard, in order (one for a queue that is not split). */
  queues: readonly Queue[];
  redis: RedisClient;
  /** The run records, over the same shards. */
  runs: RunStore;
  /**
   * Resolves once the queue's recorded shard count matches this server's; rejects (`E_CONFIG`) when
   * it does not, and every run route then answers with that error. @defaultValue no check
   */
  shardsChecked?: () => Promise<void>;
  stores: StoreRegistry;
  /** Model id jobs ask for unless the request names one. */
  defaultModel: string;
  /**
   * Locations jobs may use and images may be shown from (whole path segments and exact bucket names,
   * see {@link LocationAllowList}); empty: any.
   */
  allowedLocations: readonly string[];
  attempts: number;
  /** Completed jobs kept per shard (the job policy's `keepCompleted`). @defaultValue {@link DEFAULT_JOB_POLICY}'s */
  keepCompleted?: number;
  maxBacklog: number;
  /** Largest source image read for previews, bytes. */
  maxBytes: number;
  log: Logger;
  /** Enqueues of prefixes still listing, so shutdown can stop and await them. */
  background: BackgroundEnqueues;
}

/**
 * The queue side of the API: `POST /v1/jobs` (the producer's `enqueueRun`, with the same validation),
 * `GET /v1/runs`, `GET /v1/runs/:id`, and each run's results (`/results`, `/results/*`) and source
 * images as upright JPEG previews (`/images/*`, read through the storage layer so the browser never
 * needs storage credentials).
 */
export async function runsRoutes(app: FastifyInstance, options: RunsRoutesOptions): Promise<void> {
  const { runs, stores } = options;
  const rates = new RunRates();
  const allowList = new LocationAllowList(options.allowedLocations);

  const needRedis = async () => {
    if (options.redis.status !== 'ready') throw new ApiError('E_NOT_READY', `redis is ${options.redis.status}`, { retryAfterS: 2 });
    await options.shardsChecked?.();
  };

  const allowed = (url: string, what: string) => {
    if (url.startsWith('file:') && !options.allowedLocations.some((l) => l.startsWith('file:'))) {
      throw new ApiError('E_BAD_KEY', `${what} ${url}: file:// locations are off on this server; start it with --allowed-locations file:///DIR to open folders`);
    }
    if (allowList.empty) return;
    if (!allowList.allows(url)) throw new ApiError('E_BAD_KEY', `${what} ${url} is outside the allowed locations (${options.allowedLocations.join(', ')})`);
  };

  const present = (status: RunStatus): ApiRun => {
    const enqueueError = options.background.errorOf(status.runId);
    return { ...rates.view(status), retryable: retryableCount(status.failures), ...(enqueueError ? { enqueueError } : {}) };
  };

  const viewOf = async (runId: string): Promise<ApiRun> => {
    const status = await runs.get(runId);
    if (!status) throw new ApiError('E_NOT_FOUND', `no run ${runId}`);
    return present(status);
  };

  app.post<{ Body: JobsBody }>(
    '/v1/jobs',
    {
      onRequest: needRedis,
      schema: { summary: 'Enqueue images as one run', description: 'Give `keys` (answered 201 once queued) or a `prefix` (listed in the background, answered 202).', tags: ['runs'], body: jobsBodySchema },
      config: { openapi: { responses: { 201: jobsReplySchema, 202: jobsReplySchema, 400: errorSchema, 503: errorSchema } } },
    },
    async (req, reply) => {
      const body = req.body;
      if ((body.keys ? 1 : 0) + (body.prefix ? 1 : 0) !== 1) throw new ApiError('E_BAD_REQUEST', 'give exactly one of keys or prefix');
      parseLocation(body.results);
      allowed(body.results, 'results location');
      const runId = body.runId ?? `run-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      const settings = {
        runId,
        results: body.results,
        model: body.model ?? options.defaultModel,
        incremental: body.incremental,
        priority: body.priority,
        maxBacklog: options.maxBacklog,
        policy: { ...DEFAULT_JOB_POLICY, attempts: options.attempts, keepCompleted: options.keepCompleted ?? DEFAULT_JOB_POLICY.keepCompleted },
      };
      if (body.keys) {
        // Every key is checked before anything is written: a bad one refuses the whole request.
        const keys = body.keys.map((k) => sourceKey(k, body.base));
        for (const k of keys) allowed(k.source, 'source');
        const report = await enqueueRun(options.queues, options.redis, runs, list(keys), settings);
        reply.code(201);
        return { runId, status: 'sealed', enqueued: report.enqueued, duplicates: report.duplicates };
      }
      const prefix = body.prefix!;
      parseLocation(prefix);
      allowed(prefix, 'prefix');
      // The first entry is read now, so a missing bucket or denied access is this request's answer.
      const listing = fromPrefix(stores, prefix)[Symbol.asyncIterator]();
      const first = await listing.next();
      if (first.done) throw new ApiError('E_NOT_FOUND', `no images under ${prefix}`);
      const keys = (async function* () {
        yield first.value;
        for (let n = await listing.next(); !n.done; n = await listing.next()) yield n.value;
      })();
      options.background.track(runId, enqueueRun(options.queues, options.redis, runs, keys, { ...settings, signal: options.background.signal }), options.log);
      reply.code(202);
      return { runId, status: 'enqueuing' };
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/runs',
    {
      onRequest: needRedis,
      schema: { summary: 'List recent runs, newest first', tags: ['runs'], querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } } },
      config: { openapi: { responses: { 200: { type: 'object', required: ['runs'], properties: { runs: { type: 'array', items: runSchema } } } } } },
    },
    async (req) => {
      const list = await runs.list(req.query.limit ?? 50);
      return { runs: list.map(present) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id',
    {
      onRequest: needRedis,
      schema: { summary: 'One run: progress, rate, ETA and failures by code', tags: ['runs'], params: runParamsSchema },
      config: { openapi: { responses: { 200: runSchema, 404: errorSchema } } },
    },
    async (req) => viewOf(req.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/runs/:id/retry',
    {
      onRequest: needRedis,
      schema: {
        summary: 'Send the failed images of a run whose failure a retry may fix (transient codes: E_STORAGE, E_REDIS, E_INFERENCE, E_SHUTDOWN) back to the queue',
        description: 'Permanent failures (E_DECODE, E_UNSUPPORTED_FORMAT, …) would fail again and are left alone. The run counts each retried image as not failed until its new outcome.',
        tags: ['runs'],
        params: runParamsSchema,
      },
      config: { openapi: { responses: { 200: { type: 'object', required: ['retried', 'byCode'], properties: { retried: { type: 'integer' }, byCode: { type: 'object', additionalProperties: { type: 'integer' } } } }, 404: errorSchema } } },
    },
    async (req) => {
      await viewOf(req.params.id);
      const report = await retryTransientFailures(options.queues, runs, req.params.id);
      options.log.info({ runId: req.params.id, ...report }, 'failed images sent back to the queue');
      return report;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number; after?: string } }>(
    '/v1/runs/:id/results',
    {
      onRequest: needRedis,
      schema: {
        summary: "A page of a run's results (under its results location, in key order)",
        tags: ['runs'],
        params: runParamsSchema,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 24 }, after: { type: 'string', maxLength: 1024, description: 'Return keys after this one (the `next` of the previous page).' } },
        },
      },
      config: { openapi: { responses: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: resultSummarySchema }, next: { type: 'string' } } }, 404: errorSchema } } },
    },
    async (req) => {
      const run = await viewOf(req.params.id);
      const limit = req.query.limit ?? 24;
      const { store, key: prefix } = stores.resolve(dirUrl(run.results));
      const keys: string[] = [];
      let more = false;
      for await (const entry of store.list(prefix)) {
        if (!entry.key.endsWith('.json')) continue;
        const key = entry.key.slice(prefix.length, -'.json'.length);
        if (req.query.after !== undefined && Buffer.compare(Buffer.from(key), Buffer.from(req.query.after)) <= 0) continue;
        if (keys.length === limit) {
          more = true;
          break;
        }
        keys.push(key);
      }
      const items = await Promise.all(
        keys.map(async (key) => {
          try {
            const r = await readResult(run.results, key);
            return { key, faces: r.faces, image: r.image, model: r.model, createdAt: r.createdAt };
          } catch (err) {
            const e = err instanceof FacefleetError ? err : new FacefleetError('E_DECODE', String(err));
            return { key, faces: [], error: { code: e.code, message: e.message } };
          }
        }),
      );
      return { items, ...(more ? { next: keys[keys.length - 1] } : {}) };
    },
  );

  app.get<{ Params: { id: string; '*': string } }>(
    '/v1/runs/:id/results/*',
    {
      onRequest: needRedis,
      schema: { summary: 'The result document of one image of a run', tags: ['runs'], params: resultParamsSchema },
      config: { openapi: { responses: { 200: resultSchema, 400: errorSchema, 404: errorSchema } } },
    },
    async (req) => {
      const run = await viewOf(req.params.id);
      return readResult(run.results, checkedKey(req.params['*']));
    },
  );

  app.get<{ Params: { id: string; '*': string }; Querystring: { w?: number } }>(
    '/v1/runs/:id/images/*',
    {
      onRequest: needRedis,
      schema: {
        summary: "The source image of one result, upright, as a JPEG preview (boxes of the result are in the original's pixels: scale by preview width / result image width)",
        tags: ['runs'],
        params: resultParamsSchema,
        querystring: { type: 'object', additionalProperties: false, properties: { w: { type: 'integer', minimum: 16, maximum: 4096, default: 800, description: 'Longest side of the preview, pixels.' } } },
      },
      config: { openapi: { responses: { 200: { description: 'JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } }, 404: errorSchema } } },
    },
    async (req, reply) => {
      const run = await viewOf(req.params.id);
      const result = await readResult(run.results, checkedKey(req.params['*']));
      allowed(result.source.url, 'source');
      const src = stores.resolve(result.source.url);
      const { body } = await src.store.get(src.key, { maxBytes: options.maxBytes });
      const side = req.query.w ?? 800;
      let jpeg: Buffer;
      try {
        jpeg = await sharp(body, { pages: 1, limitInputPixels: 200e6 }).autoOrient().resize(side, side, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#ffffff' }).jpeg({ quality: 82 }).toBuffer();
      } catch (err) {
        throw new FacefleetError('E_DECODE', `the source image of ${result.key} cannot be decoded now`, { cause: err });
      }
      reply.header('content-type', 'image/jpeg').header('cache-control', 'private, max-age=300');
      return jpeg;
    },
  );

  async function readResult(results: string, key: string): Promise<DetectionResult> {
    const loc = stores.resolve(resultUrlFor(results, key));
    const { body } = await loc.store.get(loc.key, { maxBytes: MAX_RESULT_BYTES });
    try {
      return JSON.parse(body.toString('utf8')) as DetectionResult;
    } catch (err) {
      throw new FacefleetError('E_DECODE', `result ${key} is not JSON`, { cause: err });
    }
  }
}

/** A run as the API answers it. */
type ApiRun = RunView & { retryable: number; enqueueError?: { code: string; message: string } };

/** `POST /v1/jobs` body, as validated by {@link jobsBodySchema}. */
interface JobsBody {
  keys?: string[];
  prefix?: string;
  base?: string;
  results: string;
  runId?: string;
  model?: string;
  incremental?: boolean;
  priority?: number;
}

function sourceKey(arg: string, base: string | undefined): SourceKey {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(arg) && !base) throw new ApiError('E_BAD_REQUEST', `key ${JSON.stringify(arg)} is relative: give full URLs or a base`);
  return toSourceKey(arg, base ?? 'file:///');
}

function checkedKey(key: string): string {
  validateKey(key);
  return key;
}

/** The results location as a prefix URL (ending in `/`). */
function dirUrl(results: string): string {
  return results.endsWith('/') ? results : `${results}/`;
}

async function* list(keys: SourceKey[]): AsyncGenerator<SourceKey> {
  yield* keys;
}
