import type { JobsOptions, Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../queue/connection';
import { DEFAULT_JOB_POLICY, JobPolicy, jobOptions } from '../queue/job-options';
import { JOB_NAME, JOB_SCHEMA_VERSION, JobData, jobIdFor } from '../queue/job-data';
import { LuaScript } from '../queue/lua-script';
import type { RunStore } from '../queue/run-store';
import { shardOf } from '../queue/shards';
import type { SourceKey } from './key-sources';

/** Jobs per `addBulk` unless told otherwise (`--chunk-size`). */
export const DEFAULT_CHUNK_SIZE = 1000;

/** Settings of one enqueue. */
export interface EnqueueOptions {
  runId: string;
  /** Results location URL. */
  results: string;
  model: string;
  incremental?: boolean;
  /** BullMQ priority (1 is highest); unset for the normal lane. */
  priority?: number;
  /** Jobs per `addBulk`. @defaultValue {@link DEFAULT_CHUNK_SIZE} */
  chunkSize?: number;
  /**
   * Enqueueing waits while the queue (all its shards together) holds more than this many unfinished
   * jobs (waiting, prioritized, delayed, active; paused jobs count as waiting), so a run over millions of
   * keys never fills Redis. @defaultValue 100000
   */
  maxBacklog?: number;
  /** How often to re-check the backlog (and Redis memory) while waiting, ms. @defaultValue 500 */
  backlogPollMs?: number;
  /**
   * Enqueueing waits while Redis reports more memory in use (`INFO memory` `used_memory`; on a Redis
   * Cluster, the fullest master's) than this many MiB, checked before every chunk, so a producer stops
   * short of Redis' `maxmemory` instead of filling it (an evicting Redis drops jobs; a `noeviction` one
   * refuses every write, workers' included). Overshoot is at most one chunk. @defaultValue unset: no memory check
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

/** Unfinished jobs in the queue, all shards together: what counts against `maxBacklog`. */
export async function backlogOf(queue: Queue | readonly Queue[]): Promise<number> {
  const counts = await Promise.all(shardQueues(queue).map((q) => q.getJobCounts('waiting', 'prioritized', 'delayed', 'active')));
  return counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
}

/**
 * Memory Redis reports in use (`INFO memory` `used_memory`), MiB; on a Redis Cluster, the most any
 * master reports, since each master's own `maxmemory` is what fills up.
 */
export async function redisMemoryMb(redis: RedisClient): Promise<number> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const used = await Promise.all(nodes.map(async (node) => Number(/^used_memory:(\d+)/m.exec(await node.info('memory'))?.[1] ?? 0)));
  return Math.max(0, ...used) / 1048576;
}

/** True for a batch of keys, false for one key. */
function isBatch(item: SourceKey | readonly SourceKey[]): item is readonly SourceKey[] {
  return Array.isArray(item);
}

/** The BullMQ queues of a facefleet queue, by shard: a single queue is shard 0 of one. */
function shardQueues(queue: Queue | readonly Queue[]): readonly Queue[] {
  return 'addBulk' in queue ? [queue] : queue;
}

/**
 * Streams keys into the queue as one run: creates the run record, adds jobs in chunks with
 * `addBulk` under deterministic ids (a key already queued in this run is not added twice), never lets
 * the backlog exceed `maxBacklog` nor adds a chunk while Redis uses more than `maxRedisMemoryMb`, and
 * seals the run so its total is final.
 *
 * A queue split into shards is given as its BullMQ queues in shard order (with `runs` over the same
 * shards): each key goes to shard `shardOf(source)`, a chunk is checked and added shard by shard (one
 * existence check and one `addBulk` per shard), and each shard's new jobs are added to that shard's
 * total. The same source always lands in the same shard, so the duplicate check stays per shard.
 *
 * Chunks overlap: a chunk's existence check is sent before the previous chunk's `addBulk`, so Redis
 * answers it at once and runs one chunk's add scripts while this process hashes and serialises the
 * next; at most two `addBulk`s are in flight. The duplicate check stays exact: a key counts as
 * already queued when Redis has it or when it is in an earlier chunk not yet seen to land.
 *
 * `keys` may hand over keys one at a time or in batches (arrays, as `manifestBatches` reads a
 * manifest): chunks are cut at `chunkSize` either way, and a batch costs one async step instead of one
 * per key.
 */
export async function enqueueRun(
  queue: Queue | readonly Queue[],
  redis: RedisClient,
  runs: RunStore,
  keys: AsyncIterable<SourceKey | readonly SourceKey[]>,
  options: EnqueueOptions,
): Promise<EnqueueReport> {
  const queues = shardQueues(queue);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const maxBacklog = options.maxBacklog ?? 100_000;
  const opts = jobOptions(options.policy ?? DEFAULT_JOB_POLICY, options.priority);
  await runs.create(options.runId, { results: options.results, model: options.model });
  const report: EnqueueReport = { runId: options.runId, enqueued: 0, duplicates: 0 };
  const chunk: SourceKey[] = [];
  // Counts a chunk's keys as soon as its check is sent (its duplicates are handed back when it is
  // sent), so the bound holds while chunks are on their way.
  let backlog = await backlogOf(queues);
  /** Ids of every chunk whose `addBulk` has not been seen to land (checked, or sent). */
  const unlanded = new Set<Set<string>>();
  let checked: CheckedChunk | undefined;
  const inFlight: SentChunk[] = [];
  const totals = new Set<Promise<unknown>>();
  let totalError: unknown;

  /** Waits for the oldest chunk in flight to land and books it. */
  const settleOldest = async () => {
    const landed = inFlight.shift()!;
    await landed.done;
    report.enqueued += landed.added;
    report.duplicates += landed.offered - landed.added;
    // Not awaited here: Redis answers it only after the chunk sent meanwhile, and waiting would leave
    // this process idle for a whole chunk; every total is awaited before sealing.
    landed.addedByShard.forEach((added, shard) => {
      if (added === 0) return;
      const total = runs.addTotal(options.runId, added, shard).catch((err: unknown) => {
        totalError ??= err;
      });
      totals.add(total);
      void total.finally(() => totals.delete(total));
    });
    options.onProgress?.(report.enqueued, report.duplicates);
  };

  /** Sends the checked chunk's `addBulk` without waiting for it. */
  const sendChecked = async () => {
    if (!checked) return;
    const c = checked;
    checked = undefined;
    const sent = await sendChunk(queues, c, options, opts);
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
        backlog = await backlogOf(queues);
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
      const take = Math.min(room, chunk.length);
      const next = checkChunk(queues, redis, chunk.splice(0, take), options, unlanded);
      backlog += take;
      await sendChecked();
      checked = next;
      if (inFlight.length >= 2) await settleOldest();
    }
  };

  try {
    reading: for await (const item of keys) {
      for (const k of isBatch(item) ? item : [item]) {
        if (options.signal?.aborted) break reading;
        chunk.push(k);
        if (chunk.length >= chunkSize) await flush();
      }
    }
    await flush();
    await drain();
    await Promise.all(totals);
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
  part: readonly SourceKey[];
  ids: string[];
  /**
   * By shard, the indexes (into `part`) of the keys offered to Redis: each id once, leaving out ids
   * of an earlier chunk not yet seen to land (that chunk adds them, or found them queued).
   */
  offered: number[][];
  /** The ids offered, in `unlanded` until the chunk's `addBulk` lands. */
  own: Set<string>;
  /** By shard, which offered ids Redis has (in the order of `offered`), answered by the check sent when the chunk was read. */
  exists: Promise<boolean[][]>;
  /** The run's set of chunks not seen to land, which `own` leaves when the chunk lands. */
  unlanded: Set<Set<string>>;
}

/** A chunk whose `addBulk` is on its way. */
interface SentChunk {
  added: number;
  /** Jobs added to each shard. */
  addedByShard: number[];
  offered: number;
  done: Promise<unknown>;
}

/**
 * Hashes a chunk's job ids, leaves out the ids already in the chunk or in an earlier chunk still on
 * its way, and sends the existence check of the rest (one per shard) without waiting for the answer.
 */
function checkChunk(queues: readonly Queue[], redis: RedisClient, part: readonly SourceKey[], options: EnqueueOptions, unlanded: Set<Set<string>>): CheckedChunk {
  const ids = new Array<string>(part.length);
  const earlier = [...unlanded];
  const own = new Set<string>();
  const offered = queues.map((): number[] => []);
  const jobKeys = queues.map((): string[] => []);
  // A job's key is its queue's key prefix and its id (`Queue.toKey`), built here without a call per key.
  const keyPrefix = queues.map((q) => q.toKey(''));
  next: for (let i = 0; i < part.length; i++) {
    const id = jobIdFor(part[i].source, options.model, options.runId);
    ids[i] = id;
    for (const e of earlier) if (e.has(id)) continue next;
    const seen = own.size;
    if (own.add(id).size === seen) continue;
    const shard = queues.length === 1 ? 0 : shardOf(part[i].source, queues.length);
    offered[shard].push(i);
    jobKeys[shard].push(keyPrefix[shard] + id);
  }
  unlanded.add(own);
  const exists = Promise.all(jobKeys.map((keys) => existing(redis, keys)));
  // Observed at once: a failure surfaces where the answer is awaited, never as an unhandled rejection.
  exists.catch(() => undefined);
  return { part, ids, offered, own, exists, unlanded };
}

/**
 * Adds the offered jobs of a checked chunk that Redis does not have yet and returns without waiting
 * for Redis.
 */
async function sendChunk(queues: readonly Queue[], c: CheckedChunk, options: EnqueueOptions, opts: JobsOptions): Promise<SentChunk> {
  const exists = await c.exists;
  const jobs = c.offered.map((at, shard) => {
    const list: Array<Parameters<Queue['addBulk']>[0][number]> = [];
    at.forEach((i, j) => {
      if (!exists[shard][j]) list.push(detectJob(c.part[i], c.ids[i], options, opts));
    });
    return list;
  });
  const done = Promise.all(jobs.map((list, shard) => (list.length > 0 ? queues[shard].addBulk(list) : undefined))).then(() => {
    c.unlanded.delete(c.own);
  });
  done.catch(() => undefined);
  const addedByShard = jobs.map((list) => list.length);
  return { added: addedByShard.reduce((a, b) => a + b, 0), addedByShard, offered: c.part.length, done };
}

/**
 * Which of `keys` (distinct) exist. One `EXISTS` of them all answers how many: none (a new run, the
 * common case) or all (a run enqueued again) settle it in one cheap command; only a chunk where some
 * exist asks key by key, in one script. The keys of a shard share its hash tag under Redis Cluster
 * (`{facefleet-3}`, or `--redis-prefix '{facefleet}'` for a queue that is not split), so one command
 * may name them all.
 */
async function existing(redis: RedisClient, keys: string[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  const count = await redis.exists(keys);
  if (count === 0 || count === keys.length) return new Array<boolean>(keys.length).fill(count > 0);
  const flags = (await EXISTS_EACH.run(redis, keys, [])) as number[];
  return flags.map((f) => f === 1);
}

/** `EXISTS` key by key, in one call: a pipeline of them costs this process about 10 µs of ioredis bookkeeping per key. */
const EXISTS_EACH = new LuaScript("local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('EXISTS', k) end return r");

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
