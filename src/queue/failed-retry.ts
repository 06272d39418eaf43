import type { Job } from 'bullmq';
import { isErrorCode } from '../errors';
import type { RunStore } from './run-store';

/**
 * Sends one failed job back to its queue and takes its counted failure back from its run, so the run
 * counts it again when it finishes. The failure is taken back first: a retried job may finish before a
 * later decrement would land, and the run would look finished with the failure counted twice. Only a
 * failure counted for this very job is taken back (its hash keeps the mark), so retrying a job that
 * was never counted changes no count. Resolves false, the failure counted again, when the job could
 * not be retried (retried meanwhile by someone else, or removed).
 *
 * @param runId - The run the job counts into (`runOf(job)`), or undefined for a job of no run.
 * @param shard - The shard of the job's queue.
 */
export async function retryFailedJob(job: Job, runs: RunStore, runId: string | undefined, shard: number, code: string): Promise<boolean> {
  const jobKey = `${job.queueQualifiedName}:${job.id}`;
  if (runId) await runs.unrecordFailure(runId, code, { shard, jobKey });
  try {
    await job.retry('failed');
    return true;
  } catch {
    if (runId) await runs.recordJobs(runId, [{ jobKey, outcome: 'failed', code: isErrorCode(code) ? code : 'E_INTERNAL' }], shard);
    return false;
  }
}
