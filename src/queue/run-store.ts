import type { Redis } from 'ioredis';
import { ALL_ERROR_CODES } from '../errors';
import { QueueTarget, runIndexKey, runKey } from './connection';

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
 * between its result write and its completion can count twice, so readers clamp to `total`.
 */
export class RunStore {
  constructor(
    private readonly redis: Redis,
    private readonly target: Pick<QueueTarget, 'queue' | 'prefix'>,
  ) {}

  /** Creates the record if it does not exist (re-running a producer with the same id continues it). */
  async create(runId: string, info: { results: string; model: string }): Promise<void> {
    const key = runKey(this.target, runId);
    const now = new Date().toISOString();
    await this.redis
      .multi()
      .hsetnx(key, 'createdAt', now)
      .hset(key, 'results', info.results, 'model', info.model, 'sealed', '0')
      .zadd(runIndexKey(this.target), 'NX', Date.now(), runId)
      .exec();
  }

  /** Adds `count` newly enqueued jobs to the run's total. */
  async addTotal(runId: string, count: number): Promise<void> {
    if (count > 0) await this.redis.hincrby(runKey(this.target, runId), 'total', count);
  }

  /** Marks enqueueing finished: `total` is final. */
  async seal(runId: string): Promise<void> {
    await this.redis.hset(runKey(this.target, runId), 'sealed', '1');
  }

  /** Counts one final outcome (and its failure code). */
  async record(runId: string, outcome: Outcome, code?: string): Promise<void> {
    const key = runKey(this.target, runId);
    const m = this.redis.multi().hincrby(key, outcome, 1);
    if (outcome === 'failed') m.hincrby(key, `fail:${code ?? 'E_UNKNOWN'}`, 1);
    await m.exec();
  }

  /** Takes back one counted failure of `code`: its job was sent back to the queue for another try. */
  async unrecordFailure(runId: string, code: string): Promise<void> {
    const key = runKey(this.target, runId);
    await this.redis.multi().hincrby(key, 'failed', -1).hincrby(key, `fail:${code}`, -1).exec();
  }

  /** Reads a run, or `null` when unknown. */
  async get(runId: string): Promise<RunStatus | null> {
    const h = await this.redis.hgetall(runKey(this.target, runId));
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
    const ids = await this.redis.zrevrange(runIndexKey(this.target), 0, limit - 1);
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    return runs.filter((r): r is RunStatus => r !== null);
  }
}

/** True when every enqueued job of a sealed run has an outcome. */
export function isRunFinished(s: RunStatus): boolean {
  return s.sealed && s.done + s.skipped + s.failed >= s.total;
}

/** The fixed failure codes, for tables that list zero counts too. */
export const KNOWN_FAILURE_CODES = ALL_ERROR_CODES;
