import type { Queue } from 'bullmq';
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
 */
export async function enqueueRun(queue: Queue, redis: Redis, runs: RunStore, keys: AsyncIterable<SourceKey>, options: EnqueueOptions): Promise<EnqueueReport> {
  const chunkSize = options.chunkSize ?? 1000;
  const maxBacklog = options.maxBacklog ?? 100_000;
  const opts = jobOptions(options.policy ?? DEFAULT_JOB_POLICY, options.priority);
  await runs.create(options.runId, { results: options.results, model: options.model });
  const report: EnqueueReport = { runId: options.runId, enqueued: 0, duplicates: 0 };
  const chunk: SourceKey[] = [];
  let backlog = await backlogOf(queue);

  const flush = async () => {
    while (chunk.length > 0) {
      // Room left under the bound; refresh the count only when the last reading leaves none.
      let room = maxBacklog - backlog;
      while (room <= 0) {
        options.onBackpressure?.(backlog);
        await sleep(options.backlogPollMs ?? 500);
        if (options.signal?.aborted) return;
        backlog = await backlogOf(queue);
        room = maxBacklog - backlog;
      }
      if (options.maxRedisMemoryMb !== undefined) {
        for (let used = await redisMemoryMb(redis); used > options.maxRedisMemoryMb; used = await redisMemoryMb(redis)) {
          options.onMemoryPressure?.(used);
          await sleep(options.backlogPollMs ?? 500);
          if (options.signal?.aborted) return;
        }
      }
      const part = chunk.splice(0, Math.min(room, chunk.length));
      const added = await addChunk(queue, redis, part, options, opts);
      report.enqueued += added;
      report.duplicates += part.length - added;
      backlog += added;
      await runs.addTotal(options.runId, added);
      options.onProgress?.(report.enqueued, report.duplicates);
    }
  };

  for await (const k of keys) {
    if (options.signal?.aborted) break;
    chunk.push(k);
    if (chunk.length >= chunkSize) await flush();
  }
  await flush();
  await runs.seal(options.runId);
  return report;
}

/** Adds the jobs of a chunk that do not exist yet; returns how many were added. */
async function addChunk(queue: Queue, redis: Redis, part: SourceKey[], options: EnqueueOptions, opts: ReturnType<typeof jobOptions>): Promise<number> {
  const ids = part.map((k) => jobIdFor(k.source, options.model, options.runId));
  const exists = await redis.pipeline(ids.map((id) => ['exists', queue.toKey(id)])).exec();
  const seen = new Set<string>();
  const fresh: Array<{ k: SourceKey; id: string }> = [];
  part.forEach((k, i) => {
    if (exists?.[i]?.[1] === 1 || seen.has(ids[i])) return;
    seen.add(ids[i]);
    fresh.push({ k, id: ids[i] });
  });
  if (fresh.length === 0) return 0;
  await queue.addBulk(
    fresh.map(({ k, id }) => {
      const data: JobData = {
        v: JOB_SCHEMA_VERSION,
        source: k.source,
        results: options.results,
        runId: options.runId,
        model: options.model,
        key: k.key,
        ...(options.incremental ? { incremental: true } : {}),
      };
      return { name: JOB_NAME, data, opts: { ...opts, jobId: id } };
    }),
  );
  return fresh.length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
