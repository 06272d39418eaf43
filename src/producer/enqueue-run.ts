import type { JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_JOB_POLICY, JobPolicy, jobOptions } from '../queue/job-options';
import { JOB_NAME, JOB_SCHEMA_VERSION, JobData, jobIdFor } from '../queue/job-data';
import type { RunStore } from '../queue/run-store';
import type { SourceKey } from './key-sources';

/** Settings of one enqueue. */
export interface EnqueueOptions {
  runId: string;
  /** Results location URL. */
  results: string;
  model: string;
  incremental?: boolean;
  /** BullMQ priority (1 is highest); unset for the normal lane. */
  priority?: number;
  /** Jobs per `addBulk`. @defaultValue 1000 */
  chunkSize?: number;
  /**
   * Enqueueing waits while the queue holds more than this many unfinished jobs (waiting, prioritized,
   * delayed, active; paused jobs count as waiting), so a run over millions of keys never fills Redis. @defaultValue 100000
   */
  maxBacklog?: number;
  /** How often to re-check the backlog (and Redis memory) while waiting, ms. @defaultValue 500 */
  backlogPollMs?: number;
  /**
   * Enqueueing waits while Redis reports more memory in use (`INFO memory` `used_memory`) than this
   * many MiB, checked before every chunk, so a producer stops short of Redis' `maxmemory` instead of
   * filling it (an evicting Redis drops jobs; a `noeviction` one refuses every write, workers' included).
   * Overshoot is at most one chunk. @defaultValue unset: no memory check
   */
  maxRedisMemoryMb?: number;
  policy?: JobPolicy;
  /** Called after every chunk with the running count. */
  onProgress?: (enqueued: number, duplicates: number) => void;
  /** Called while waiting for the backlog to drain. */
  onBackpressure?: (backlog: number) => void;
  /** Called while waiting for Redis memory to fall below `maxRedisMemoryMb`, with the MiB in use. */
  onMemoryPressure?: (usedMb: number) => void;
  /** Stops early when aborted. */
  signal?: AbortSignal;
}

/** What an enqueue did. */
export interface EnqueueReport {
  runId: string;
  enqueued: number;
  /** Keys whose job already existed in the queue (same source, model and run). */
  duplicates: number;
}

/** Unfinished jobs in the queue: what counts against `maxBacklog`. */
export async function backlogOf(queue: Queue): Promise<number> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/** Memory Redis reports in use (`INFO memory` `used_memory`), MiB. */
export async function redisMemoryMb(redis: Redis): Promise<number> {
  const m = /^used_memory:(\d+)/m.exec(await redis.info('memory'));
  return m ? Number(m[1]) / 1048576 : 0;
}

/**
 * Streams keys into the queue as one run: creates the run record, adds jobs in chunks with
 * `addBulk` under deterministic ids (a key already queued in this run is not added twice), never lets
 * the backlog exceed `maxBacklog` nor adds a chunk while Redis uses more than `maxRedisMemoryMb`, and
 * seals the run so its total is final.
 *
 * Chunks overlap: a chunk's existence check is sent before the previous chunk's `addBulk`, so Redis
 * answers it at once and runs one chunk's add scripts while this process hashes and serialises the
 * next; at most two `addBulk`s are in flight. The duplicate check stays exact: a key counts as
 * already queued when Redis has it or when it is in an earlier chunk not yet seen to land.
 */
export async function enqueueRun(queue: Queue, redis: Redis, runs: RunStore, keys: AsyncIterable<SourceKey>, options: EnqueueOptions): Promise<EnqueueReport> {
  const chunkSize = options.chunkSize ?? 1000;
  const maxBacklog = options.maxBacklog ?? 100_000;
  const opts = jobOptions(options.policy ?? DEFAULT_JOB_POLICY, options.priority);
  await runs.create(options.runId, { results: options.results, model: options.model });
  const report: EnqueueReport = { runId: options.runId, enqueued: 0, duplicates: 0 };
  const chunk: SourceKey[] = [];
  // Counts a chunk's keys as soon as its check is sent (its duplicates are handed back when it is
  // sent), so the bound holds while chunks are on their way.
  let backlog = await backlogOf(queue);
  /** Ids of every chunk whose `addBulk` has not been seen to land (checked, or sent). */
  const unlanded = new Set<Set<string>>();
  let checked: CheckedChunk | undefined;
  const inFlight: SentChunk[] = [];
  let lastTotal: Promise<unknown> = Promise.resolve();
  let totalError: unknown;

  /** Waits for the oldest chunk in flight to land and books it. */
  const settleOldest = async () => {
    const landed = inFlight.shift()!;
    await landed.done;
    report.enqueued += landed.added;
    report.duplicates += landed.offered - landed.added;
    // Not awaited here: Redis answers it only after the chunk sent meanwhile, and waiting would leave
    // this process idle for a whole chunk. The run's connection answers in order, so awaiting the last
    // total before sealing awaits them all.
    lastTotal = runs.addTotal(options.runId, landed.added);
    lastTotal.catch((err: unknown) => {
      totalError ??= err;
    });
    options.onProgress?.(report.enqueued, report.duplicates);
  };

  /** Sends the checked chunk's `addBulk` without waiting for it. */
  const sendChecked = async () => {
    if (!checked) return;
    const c = checked;
    checked = undefined;
    const sent = await sendChunk(queue, c, options, opts);
    backlog -= c.part.length - sent.added;
    inFlight.push(sent);
  };

  /** Everything checked or in flight lands. */
  const drain = async () => {
    await sendChecked();
    while (inFlight.length > 0) await settleOldest();
  };

  const flush = async () => {
    while (chunk.length > 0) {
      // Room left under the bound; refresh the count only when the last reading leaves none.
      let room = maxBacklog - backlog;
      while (room <= 0) {
        await drain();
        options.onBackpressure?.(backlog);
        await sleep(options.backlogPollMs ?? 500);
        if (options.signal?.aborted) return;
        backlog = await backlogOf(queue);
        room = maxBacklog - backlog;
      }
      if (options.maxRedisMemoryMb !== undefined) {
        for (let used = await redisMemoryMb(redis); used > options.maxRedisMemoryMb; used = await redisMemoryMb(redis)) {
          await drain();
          options.onMemoryPressure?.(used);
          await sleep(options.backlogPollMs ?? 500);
          if (options.signal?.aborted) return;
        }
      }
      const part = chunk.splice(0, Math.min(room, chunk.length));
      const next = checkChunk(queue, redis, part, options, unlanded);
      backlog += part.length;
      await sendChecked();
      checked = next;
      if (inFlight.length >= 2) await settleOldest();
    }
  };

  try {
    for await (const k of keys) {
      if (options.signal?.aborted) break;
      chunk.push(k);
      if (chunk.length >= chunkSize) await flush();
    }
    await flush();
    await drain();
    await lastTotal;
    if (totalError !== undefined) throw totalError;
  } finally {
    // After a failure, the chunks still out must not surface as unhandled rejections.
    checked?.exists.catch(() => undefined);
    for (const c of inFlight) c.done.catch(() => undefined);
  }
  await runs.seal(options.runId);
  return report;
}

/** The `detect` job of one key of a run, under job id `id`, as `addBulk` takes it. */
export function detectJob(
  k: SourceKey,
  id: string,
  run: Pick<EnqueueOptions, 'results' | 'runId' | 'model' | 'incremental'>,
  opts: JobsOptions,
): { name: string; data: JobData; opts: JobsOptions } {
  const data: JobData = {
    v: JOB_SCHEMA_VERSION,
    source: k.source,
    results: run.results,
    runId: run.runId,
    model: run.model,
    key: k.key,
    ...(run.incremental ? { incremental: true } : {}),
  };
  return { name: JOB_NAME, data, opts: { ...opts, jobId: id } };
}

/** A chunk whose existence check is on its way. */
interface CheckedChunk {
  part: SourceKey[];
  ids: string[];
  /** This chunk's ids, in `unlanded` until its `addBulk` lands. */
  own: Set<string>;
  /** Which ids Redis has, answered by the check sent when the chunk was read. */
  exists: Promise<boolean[]>;
  /** Ids of the earlier chunks that had not landed when the check was sent. */
  earlier: Set<string>[];
  /** The run's set of chunks not seen to land, which `own` leaves when the chunk lands. */
  unlanded: Set<Set<string>>;
}

/** A chunk whose `addBulk` is on its way. */
interface SentChunk {
  added: number;
  offered: number;
  done: Promise<unknown>;
}

/** Hashes a chunk's job ids and sends its existence check, without waiting for the answer. */
function checkChunk(queue: Queue, redis: Redis, part: SourceKey[], options: EnqueueOptions, unlanded: Set<Set<string>>): CheckedChunk {
  const ids = part.map((k) => jobIdFor(k.source, options.model, options.runId));
  const earlier = [...unlanded];
  const own = new Set(ids);
  unlanded.add(own);
  const exists = existing(redis, ids.map((id) => queue.toKey(id)));
  // Observed at once: a failure surfaces where the answer is awaited, never as an unhandled rejection.
  exists.catch(() => undefined);
  return { part, ids, own, exists, earlier, unlanded };
}

/**
 * Adds the jobs of a checked chunk that are not queued yet (not in Redis, not earlier in the chunk,
 * not in an earlier chunk still on its way) and returns without waiting for Redis.
 */
async function sendChunk(queue: Queue, c: CheckedChunk, options: EnqueueOptions, opts: JobsOptions): Promise<SentChunk> {
  const exists = await c.exists;
  const fresh = new Set<string>();
  const jobs: Parameters<Queue['addBulk']>[0] = [];
  c.part.forEach((k, i) => {
    const id = c.ids[i];
    if (exists[i] || fresh.has(id) || c.earlier.some((e) => e.has(id))) return;
    fresh.add(id);
    jobs.push(detectJob(k, id, options, opts));
  });
  const done = (jobs.length > 0 ? queue.addBulk(jobs) : Promise.resolve()).then(() => {
    c.unlanded.delete(c.own);
  });
  done.catch(() => undefined);
  return { added: fresh.size, offered: c.part.length, done };
}

/**
 * Which of `keys` exist, in one round trip and one command: a per-key `EXISTS` pipeline costs this
 * process about 10 µs of ioredis bookkeeping per key, a tenth of a chunk's whole budget. The keys of a
 * queue share its hash tag under Redis Cluster (`--redis-prefix '{facefleet}'`), so one script may
 * read them all.
 */
async function existing(redis: Redis, keys: string[]): Promise<boolean[]> {
  const flags = (await redis.eval(EXISTS_EACH, keys.length, ...keys)) as number[];
  return flags.map((f) => f === 1);
}

const EXISTS_EACH = "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('EXISTS', k) end return r";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
