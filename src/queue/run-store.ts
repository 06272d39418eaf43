import { ALL_ERROR_CODES, ErrorCode, FacefleetError } from '../errors';
import { RedisClient, runIndexKey, runKey } from './connection';
import { isRunId, MAX_RUN_ID_LENGTH } from './job-data';
import { LuaScript } from './lua-script';
import { Shard, ShardedTarget, shardsOf } from './shards';

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
const COUNT_INTO_RUN = new LuaScript(`
if redis.call('hexists', KEYS[1], 'createdAt') == 0 then return 0 end
for i = 2, #ARGV, 2 do redis.call('hincrby', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if ttl and ttl > 0 then redis.call('expire', KEYS[1], ttl) end
return 1
`);

/**
 * Counts final outcomes of jobs into an existing run record, each at most once: KEYS[1] is the record,
 * KEYS[1 + i] the hash of the job of outcome i, ARGV[1] the fallback ttl and ARGV[2i], ARGV[2i + 1]
 * outcome i and its failure code ('' unless failed). An outcome counts only when its job still exists
 * and its `ffCounted` mark is absent or `retry` (its failure was taken back); the mark is set to the
 * outcome with the count, so a job run again after its worker died between counting and completing
 * is not counted twice. The record's expiry is pushed back only once it has run down by a tenth of
 * its time to live (at most an hour): a write fewer per call, and a record still lives its time to
 * live after its last change, give or take that. Returns the outcomes counted, or -1 when the run
 * does not exist.
 */
const COUNT_OUTCOMES = new LuaScript(`
if redis.call('hexists', KEYS[1], 'createdAt') == 0 then return -1 end
local n = 0
local add = {}
for i = 2, #KEYS do
  local outcome = ARGV[2 * i - 2]
  local code = ARGV[2 * i - 1]
  local job = redis.call('hmget', KEYS[i], 'name', 'ffCounted')
  if job[1] and (not job[2] or job[2] == 'retry') then
    redis.call('hset', KEYS[i], 'ffCounted', outcome)
    add[outcome] = (add[outcome] or 0) + 1
    if code ~= '' then add['fail:' .. code] = (add['fail:' .. code] or 0) + 1 end
    n = n + 1
  end
end
for field, amount in pairs(add) do redis.call('hincrby', KEYS[1], field, amount) end
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if n > 0 and ttl and ttl > 0 and redis.call('ttl', KEYS[1]) < ttl - math.min(3600, math.ceil(ttl / 10)) then redis.call('expire', KEYS[1], ttl) end
return n
`);

/**
 * Takes back the counted failure (code ARGV[2]) of one failed job (KEYS[2]) from an existing run record
 * (KEYS[1]): when the job's mark says it was counted as failed, or when it has no mark (counted by a
 * worker from before the marks); the mark becomes `retry`, so its next outcome counts and a second
 * take-back does nothing. A job counted as anything else is left alone. Returns 1 when taken back.
 */
const UNCOUNT_FAILURE = new LuaScript(`
if redis.call('hexists', KEYS[1], 'createdAt') == 0 or redis.call('exists', KEYS[2]) == 0 then return 0 end
local mark = redis.call('hget', KEYS[2], 'ffCounted')
if mark and mark ~= 'failed' then return 0 end
redis.call('hset', KEYS[2], 'ffCounted', 'retry')
redis.call('hincrby', KEYS[1], 'failed', -1)
redis.call('hincrby', KEYS[1], 'fail:' .. ARGV[2], -1)
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if ttl and ttl > 0 then redis.call('expire', KEYS[1], ttl) end
return 1
`);

/** Seals an existing run record (refreshing its expiry as {@link COUNT_INTO_RUN} does). */
const SEAL_RUN = new LuaScript(`
if redis.call('hexists', KEYS[1], 'createdAt') == 0 then return 0 end
redis.call('hset', KEYS[1], 'sealed', '1')
local ttl = tonumber(redis.call('hget', KEYS[1], 'ttl')) or tonumber(ARGV[1])
if ttl and ttl > 0 then redis.call('expire', KEYS[1], ttl) end
return 1
`);

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

/** One job's final outcome, for {@link RunStore.recordJobs}. */
export interface JobOutcome {
  /** The Redis key of the job's hash (`<prefix>:<shard queue>:<job id>`), which keeps its counted mark. */
  jobKey: string;
  outcome: Outcome;
  /** The failure code of a `failed` outcome. @defaultValue `E_INTERNAL` */
  code?: ErrorCode;
}

/**
 * Run records in Redis: one hash per run and shard (totals, counters, failures by code), beside the
 * shard's jobs in its slot, and a sorted index on shard 0. A queue of one shard has one record per run,
 * under the keys it always had. The producer adds each shard's new jobs to that shard's total, workers
 * count each final outcome into the record of the job's shard, and readers add the shards up, so no
 * key is written by every job of a run and a Redis Cluster spreads the counting with the jobs.
 *
 * Outcomes of jobs ({@link recordJobs}) are counted once per job: the count marks the job's hash, so a
 * job executed again after a crash between its result write and its completion is not counted twice.
 * Outcomes counted without a job ({@link record}) have no such guard, and readers clamp to `total`.
 * Counts go only into a run that exists: an outcome for an unknown or expired run creates nothing. A
 * record expires `ttlSeconds` after its last change; the index drops expired runs when it is read. A
 * failed Redis call is `E_REDIS`.
 */
export class RunStore {
  private readonly ttlSeconds: number;
  private readonly shards: Shard[];

  constructor(
    private readonly redis: RedisClient,
    target: ShardedTarget,
    options: RunStoreOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_RUN_TTL_SECONDS;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) throw new RangeError('ttlSeconds must be an integer ≥ 1');
    this.shards = shardsOf(target);
  }

  /** The record key of a run in a shard (shard 0 holds the index). */
  private key(runId: string, shard = 0): string {
    return runKey(this.shardAt(shard), runId);
  }

  private shardAt(shard: number): Shard {
    const s = this.shards[shard];
    if (!s) throw new RangeError(`no shard ${shard} (the queue has ${this.shards.length})`);
    return s;
  }

  /**
   * Creates the record in every shard where it does not exist (re-running a producer with the same id
   * continues it), with this store's expiry.
   * @throws FacefleetError `E_BAD_JOB` for a run id that is not letters, digits, `.`, `_`, `-` (at most 128).
   */
  async create(runId: string, info: { results: string; model: string }): Promise<void> {
    if (!isRunId(runId)) throw new FacefleetError('E_BAD_JOB', `invalid run id: expected 1 to ${MAX_RUN_ID_LENGTH} letters, digits, . _ - (given ${String(runId).length} characters)`);
    const now = new Date().toISOString();
    await this.call(`create ${runId}`, () =>
      Promise.all(
        this.shards.map((shard) => {
          const key = runKey(shard, runId);
          const tx = this.redis
            .multi()
            .hsetnx(key, 'createdAt', now)
            .hset(key, 'results', info.results, 'model', info.model, 'sealed', '0', 'ttl', String(this.ttlSeconds))
            .expire(key, this.ttlSeconds);
          if (shard.index === 0) tx.zadd(runIndexKey(shard), 'NX', Date.now(), runId);
          return tx.exec();
        }),
      ),
    );
  }

  /** Adds `count` newly enqueued jobs of shard `shard` to the run's total (nothing when the run does not exist). */
  async addTotal(runId: string, count: number, shard = 0): Promise<void> {
    if (count > 0) await this.count(runId, ['total', count], shard);
  }

  /** Marks enqueueing finished in every shard: `total` is final. */
  async seal(runId: string): Promise<void> {
    // Only an existing record is sealed: HSET on an expired one would leave a record without createdAt.
    if (!isRunId(runId)) return;
    await this.call(`seal ${runId}`, () => Promise.all(this.shards.map((shard) => SEAL_RUN.run(this.redis, [runKey(shard, runId)], [this.ttlSeconds]))));
  }

  /**
   * Counts one final outcome (and, for `failed`, its code: `E_INTERNAL` when none is given) into an
   * existing run, in shard `shard`; resolves whether it was counted (false: no such run, or not a valid
   * run id, and nothing was written). Nothing guards against counting the same image twice: workers
   * count with {@link recordJobs}.
   */
  async record(runId: string, outcome: Outcome, code: ErrorCode = 'E_INTERNAL', shard = 0): Promise<boolean> {
    const increments: Array<string | number> = [outcome, 1];
    if (outcome === 'failed') increments.push(`fail:${code}`, 1);
    return this.count(runId, increments, shard);
  }

  /**
   * Counts the final outcomes of jobs of one shard into an existing run in one call, each job at most
   * once (its hash keeps the mark). Resolves with the outcomes counted, or `null` when the run does not
   * exist (or the id is not a valid run id) and nothing was written.
   */
  async recordJobs(runId: string, outcomes: readonly JobOutcome[], shard = 0): Promise<number | null> {
    if (!isRunId(runId) || outcomes.length === 0) return isRunId(runId) ? 0 : null;
    const args = outcomes.flatMap((o) => [o.outcome, o.outcome === 'failed' ? o.code ?? 'E_INTERNAL' : '']);
    const n = (await this.call(`count into ${runId}`, () =>
      COUNT_OUTCOMES.run(this.redis, [this.key(runId, shard), ...outcomes.map((o) => o.jobKey)], [this.ttlSeconds, ...args]),
    )) as number;
    return n < 0 ? null : n;
  }

  /**
   * Takes back one counted failure of `code` in shard `shard`: its job was sent back to the queue for
   * another try. With the job's key, only a failure counted for that job is taken back, and its next
   * outcome counts again.
   */
  async unrecordFailure(runId: string, code: string, options: { shard?: number; jobKey?: string } = {}): Promise<void> {
    if (options.jobKey === undefined) {
      await this.count(runId, ['failed', -1, `fail:${code}`, -1], options.shard);
      return;
    }
    if (!isRunId(runId)) return;
    const jobKey = options.jobKey;
    await this.call(`uncount from ${runId}`, () => UNCOUNT_FAILURE.run(this.redis, [this.key(runId, options.shard), jobKey], [this.ttlSeconds, code]));
  }

  private async count(runId: string, increments: Array<string | number>, shard = 0): Promise<boolean> {
    if (!isRunId(runId)) return false;
    const counted = await this.call(`count into ${runId}`, () => COUNT_INTO_RUN.run(this.redis, [this.key(runId, shard)], [this.ttlSeconds, ...increments]));
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

  /**
   * Reads a run, the shards added up, or `null` when unknown or expired. It is sealed once every shard's
   * record is; its creation time is the earliest.
   */
  async get(runId: string): Promise<RunStatus | null> {
    if (!isRunId(runId)) return null;
    const hashes = await this.call(`read ${runId}`, () => Promise.all(this.shards.map((shard) => this.redis.hgetall(runKey(shard, runId)))));
    const present = hashes.filter((h) => h && h.createdAt);
    if (present.length === 0) return null;
    const status: RunStatus = { runId, total: 0, done: 0, skipped: 0, failed: 0, sealed: true, createdAt: present[0].createdAt, failures: {}, results: present[0].results ?? '', model: present[0].model ?? '' };
    for (const h of present) {
      const num = (f: string) => Number(h[f] ?? 0);
      status.total += num('total');
      status.done += num('done');
      status.skipped += num('skipped');
      status.failed += num('failed');
      status.sealed &&= h.sealed === '1';
      if (h.createdAt < status.createdAt) status.createdAt = h.createdAt;
      for (const [field, value] of Object.entries(h)) if (field.startsWith('fail:')) status.failures[field.slice(5)] = (status.failures[field.slice(5)] ?? 0) + Number(value);
    }
    return status;
  }

  /** Lists the most recent runs, newest first. */
  async list(limit = 50): Promise<RunStatus[]> {
    const index = runIndexKey(this.shardAt(0));
    const ids = await this.call('list', () => this.redis.zrevrange(index, 0, limit - 1));
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    const expired = ids.filter((_, i) => runs[i] === null);
    if (expired.length > 0) {
      await this.call('list', () => this.redis.zrem(index, ...expired));
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
