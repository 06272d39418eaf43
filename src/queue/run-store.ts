import type { Redis } from 'ioredis';
import { ALL_ERROR_CODES, ErrorCode, FacefleetError } from '../errors';
import { QueueTarget, runIndexKey, runKey } from './connection';
import { isRunId, MAX_RUN_ID_LENGTH } from './job-data';

/** How long a run record lives after its last change, by default: 30 days. */
export const DEFAULT_RUN_TTL_SECONDS = 30 * 24 * 3600;

/** Settings of a {@link RunStore}. */
export interface RunStoreOptions {
  /**
   * Seconds a run record created by this store lives after its last change (the producer's new
   * jobs, a worker's outcome). Kept in the record, so workers refresh it by the same amount.
   * @defaultValue {@link DEFAULT_RUN_TTL_SECONDS} (30 days)
   */
  ttlSeconds?: number;
}

/**
 * Adds the increments ARGV[2..] (field, amount pairs) to an existing run record only, and refreshes its
 * expiry by the record's own `ttl` (ARGV[1] when it has none). Returns 1 when counted, 0 when the run
 * does not exist (never created, or expired): nothing is created then.
 */
const COUNT_INTO_RUN = `
if redis.call('hexists', KEYS[1], 'createdAt') == 0 then return 0 end
for i = 2, #ARGV, 2 do redis.call('hincrby', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if ttl and ttl > 0 then redis.call('expire', KEYS[1], ttl) end
return 1
`;

/** Seals an existing run record (refreshing its expiry as {@link COUNT_INTO_RUN} does). */
const SEAL_RUN = `
if redis.call('hexists', KEYS[1], 'createdAt') == 0 then return 0 end
redis.call('hset', KEYS[1], 'sealed', '1')
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if ttl and ttl > 0 then redis.call('expire', KEYS[1], ttl) end
return 1
`;

/** Progress of a run, read back from its record. */
export interface RunStatus {
  runId: string;
  /** Jobs enqueued so far (final once `sealed`). */
  total: number;
  done: number;
  skipped: number;
  failed: number;
  /** True once the producer finished enqueueing. */
  sealed: boolean;
  createdAt: string;
  /** Failures by reason code. */
  failures: Record<string, number>;
  /** Results location URL. */
  results: string;
  model: string;
}

/** Outcome counted for an image. */
export type Outcome = 'done' | 'skipped' | 'failed';

/**
 * Run records in Redis: one hash per run (totals, counters, failures by code) and a sorted index.
 * Counters are incremented by workers once per final outcome; a job executed twice after a crash
 * between its result write and its completion can count twice, so readers clamp to `total`. Counts go
 * only into a run that exists: an outcome for an unknown or expired run creates nothing. A record
 * expires `ttlSeconds` after its last change; the index drops expired runs when it is read. A failed
 * Redis call is `E_REDIS`.
 */
export class RunStore {
  private readonly ttlSeconds: number;

  constructor(
    private readonly redis: Redis,
    private readonly target: Pick<QueueTarget, 'queue' | 'prefix'>,
    options: RunStoreOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_RUN_TTL_SECONDS;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) throw new RangeError('ttlSeconds must be an integer ≥ 1');
  }

  /**
   * Creates the record if it does not exist (re-running a producer with the same id continues it), with
   * this store's expiry.
   * @throws FacefleetError `E_BAD_JOB` for a run id that is not letters, digits, `.`, `_`, `-` (at most 128).
   */
  async create(runId: string, info: { results: string; model: string }): Promise<void> {
    if (!isRunId(runId)) throw new FacefleetError('E_BAD_JOB', `invalid run id: expected 1 to ${MAX_RUN_ID_LENGTH} letters, digits, . _ - (given ${String(runId).length} characters)`);
    const key = runKey(this.target, runId);
    const now = new Date().toISOString();
    await this.call(`create ${runId}`, () =>
      this.redis
        .multi()
        .hsetnx(key, 'createdAt', now)
        .hset(key, 'results', info.results, 'model', info.model, 'sealed', '0', 'ttl', String(this.ttlSeconds))
        .expire(key, this.ttlSeconds)
        .zadd(runIndexKey(this.target), 'NX', Date.now(), runId)
        .exec(),
    );
  }

  /** Adds `count` newly enqueued jobs to the run's total (nothing when the run does not exist). */
  async addTotal(runId: string, count: number): Promise<void> {
    if (count > 0) await this.count(runId, ['total', count]);
  }

  /** Marks enqueueing finished: `total` is final. */
  async seal(runId: string): Promise<void> {
    // Only an existing record is sealed: HSET on an expired one would leave a record without createdAt.
    if (isRunId(runId)) await this.call(`seal ${runId}`, () => this.redis.eval(SEAL_RUN, 1, runKey(this.target, runId), String(this.ttlSeconds)));
  }

  /**
   * Counts one final outcome (and, for `failed`, its code: `E_INTERNAL` when none is given) into an
   * existing run; resolves whether it was counted (false: no such run, or not a valid run id, and
   * nothing was written).
   */
  async record(runId: string, outcome: Outcome, code: ErrorCode = 'E_INTERNAL'): Promise<boolean> {
    const increments: Array<string | number> = [outcome, 1];
    if (outcome === 'failed') increments.push(`fail:${code}`, 1);
    return this.count(runId, increments);
  }

  /** Takes back one counted failure of `code`: its job was sent back to the queue for another try. */
  async unrecordFailure(runId: string, code: string): Promise<void> {
    await this.count(runId, ['failed', -1, `fail:${code}`, -1]);
  }

  private async count(runId: string, increments: Array<string | number>): Promise<boolean> {
    if (!isRunId(runId)) return false;
    const counted = await this.call(`count into ${runId}`, () => this.redis.eval(COUNT_INTO_RUN, 1, runKey(this.target, runId), String(this.ttlSeconds), ...increments.map(String)));
    return counted === 1;
  }

  /**
   * Runs one Redis call of this store. Its failure (connection lost, timeout, an error reply) is
   * `E_REDIS`, transient: the worker retries the job, the API answers 503, instead of an unclassified
   * error failing the job for good.
   */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new FacefleetError('E_REDIS', `run record ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** Reads a run, or `null` when unknown or expired. */
  async get(runId: string): Promise<RunStatus | null> {
    if (!isRunId(runId)) return null;
    const h = await this.call(`read ${runId}`, () => this.redis.hgetall(runKey(this.target, runId)));
    if (!h || !h.createdAt) return null;
    const num = (f: string) => Number(h[f] ?? 0);
    const failures: Record<string, number> = {};
    for (const [field, value] of Object.entries(h)) if (field.startsWith('fail:')) failures[field.slice(5)] = Number(value);
    return {
      runId,
      total: num('total'),
      done: num('done'),
      skipped: num('skipped'),
      failed: num('failed'),
      sealed: h.sealed === '1',
      createdAt: h.createdAt,
      failures,
      results: h.results ?? '',
      model: h.model ?? '',
    };
  }

  /** Lists the most recent runs, newest first. */
  async list(limit = 50): Promise<RunStatus[]> {
    const ids = await this.call('list', () => this.redis.zrevrange(runIndexKey(this.target), 0, limit - 1));
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    const expired = ids.filter((_, i) => runs[i] === null);
    if (expired.length > 0) {
      await this.call('list', () => this.redis.zrem(runIndexKey(this.target), ...expired));
      // Expired entries took places in this page: read it again without them.
      return this.list(limit);
    }
    return runs.filter((r): r is RunStatus => r !== null);
  }
}

/** True when every enqueued job of a sealed run has an outcome. */
export function isRunFinished(s: RunStatus): boolean {
  return s.sealed && s.done + s.skipped + s.failed >= s.total;
}

/** The fixed failure codes, for tables that list zero counts too. */
export const KNOWN_FAILURE_CODES = ALL_ERROR_CODES;
