import type { JobOutcome, RunStore } from '../queue/run-store';

/**
 * How long outcomes wait for others to share their Redis call, ms: 0, the outcomes of one turn of the
 * event loop (the jobs of a batch that finish together). A longer wait holds each job's slot that much
 * longer, and BullMQ then fetches the next job in a call of its own instead of with the completion,
 * which costs Redis more than the shared call saves (measured with scripts/redis-cost.js).
 */
export const DEFAULT_COUNT_WINDOW_MS = 0;

/** Most outcomes sent in one call. */
export const MAX_OUTCOMES_PER_CALL = 256;

interface Pending {
  outcome: JobOutcome;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Counts the final outcomes of a worker's jobs into their runs, the outcomes that arrive together in
 * one Redis call per run and shard (with their counted marks, see `RunStore.recordJobs`). Each `count`
 * resolves once its outcome is in Redis (so a job completes only after it was counted, as before) and
 * rejects with the call's error (`E_REDIS`), which retries the job.
 */
export class OutcomeCounter {
  private readonly pending = new Map<string, Pending[]>();
  /** Cancels the scheduled flush, while one is scheduled. */
  private cancel: (() => void) | undefined;

  constructor(
    private readonly runs: RunStore,
    private readonly options: { windowMs?: number } = {},
  ) {}

  /** Counts one job's outcome into run `runId` in shard `shard`. */
  count(runId: string, shard: number, outcome: JobOutcome): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = `${shard}\n${runId}`;
      const list = this.pending.get(key) ?? [];
      list.push({ outcome, resolve, reject });
      this.pending.set(key, list);
      if (list.length >= MAX_OUTCOMES_PER_CALL) void this.flush();
      else this.cancel ??= this.schedule();
    });
  }

  /** Sends everything pending now; resolves when every call has answered. */
  async flush(): Promise<void> {
    this.cancel?.();
    this.cancel = undefined;
    const batches = [...this.pending];
    this.pending.clear();
    await Promise.all(
      batches.map(async ([key, list]) => {
        const at = key.indexOf('\n');
        try {
          await this.runs.recordJobs(key.slice(at + 1), list.map((p) => p.outcome), Number(key.slice(0, at)));
          for (const p of list) p.resolve();
        } catch (err) {
          for (const p of list) p.reject(err);
        }
      }),
    );
  }

  private schedule(): () => void {
    const windowMs = this.options.windowMs ?? DEFAULT_COUNT_WINDOW_MS;
    if (windowMs > 0) {
      const timer = setTimeout(() => void this.flush(), windowMs);
      return () => clearTimeout(timer);
    }
    const immediate = setImmediate(() => void this.flush());
    return () => clearImmediate(immediate);
  }
}
