import type { Job, Queue } from 'bullmq';
import { ERROR_CODES, ErrorCode, isErrorCode, parseReason } from '../errors';
import { retryFailedJob } from '../queue/failed-retry';
import type { RunStore } from '../queue/run-store';

/** What a retry did. */
export interface RetryReport {
  /** Images sent back to the queue. */
  retried: number;
  /** The same, by the code they had failed with. */
  byCode: Record<string, number>;
}

/** True for a code whose failure a retry may fix (kind `transient`). */
export function isRetryableCode(code: string): boolean {
  return isErrorCode(code) && ERROR_CODES[code] === 'transient';
}

/** Failures a retry may fix: those counted under a transient code. */
export function retryableCount(failures: Record<string, number>): number {
  return Object.entries(failures).reduce((n, [code, count]) => n + (isRetryableCode(code) ? Math.max(0, count) : 0), 0);
}

/**
 * Sends the failed jobs of a run whose failure code is transient back to the queue (every shard's) and
 * takes their failures back from the run's counters, so the run counts them again when they finish
 * (see `retryFailedJob`). Permanent failures would fail again and are left alone.
 */
export async function retryTransientFailures(queues: Queue | readonly Queue[], runs: RunStore, runId: string): Promise<RetryReport> {
  const report: RetryReport = { retried: 0, byCode: {} };
  const list: readonly Queue[] = 'getFailed' in queues ? [queues] : queues;
  for (const [shard, queue] of list.entries()) {
    for (const { job, code } of await retryableJobs(queue, runId)) {
      // Retried meanwhile (another click, the board) or removed: its failure stands.
      if (!(await retryFailedJob(job, runs, runId, shard, code))) continue;
      report.byCode[code] = (report.byCode[code] ?? 0) + 1;
      report.retried++;
    }
  }
  return report;
}

/**
 * The failed jobs of a run whose reason has a transient code, read from a shard's failed set page by
 * page (the set is bounded by the job policy's `keepFailed`). Collected before any is retried, since a
 * retry moves a job out of the set being paged.
 */
async function retryableJobs(queue: Queue, runId: string): Promise<Array<{ job: Job; code: ErrorCode }>> {
  const out: Array<{ job: Job; code: ErrorCode }> = [];
  const page = 500;
  for (let start = 0; ; start += page) {
    const jobs = await queue.getFailed(start, start + page - 1);
    for (const job of jobs) {
      if (job?.data?.runId !== runId) continue;
      const { code } = parseReason(job.failedReason);
      if (isRetryableCode(code)) out.push({ job, code });
    }
    if (jobs.length < page) return out;
  }
}
