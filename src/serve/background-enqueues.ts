import type { Logger } from 'pino';
import { FacefleetError } from '../errors';
import type { EnqueueReport } from '../producer/enqueue-run';

/** Prefix enqueues running after their request was answered. */
export class BackgroundEnqueues {
  private readonly tasks = new Set<Promise<unknown>>();
  private readonly errors = new Map<string, { code: string; message: string }>();
  private readonly abort = new AbortController();

  /** Aborted when the server shuts down. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Tracks a task; its failure is kept for the run's view. */
  track(runId: string, task: Promise<EnqueueReport>, log: Logger): void {
    const p = task.then(
      (report) => log.info({ runId, enqueued: report.enqueued, duplicates: report.duplicates }, 'prefix enqueued'),
      (err: unknown) => {
        const e = err instanceof FacefleetError ? { code: err.code, message: err.message } : { code: 'E_STORAGE', message: String((err as Error)?.message ?? err) };
        if (this.errors.size > 1000) this.errors.clear();
        this.errors.set(runId, e);
        log.error({ runId, ...e }, 'prefix enqueue stopped');
      },
    );
    this.tasks.add(p);
    void p.finally(() => this.tasks.delete(p));
  }

  /** Why the listing of a run's prefix stopped, if it did. */
  errorOf(runId: string): { code: string; message: string } | undefined {
    return this.errors.get(runId);
  }

  /** Stops listing and waits for the tasks to finish what they were adding. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.tasks]);
  }
}
