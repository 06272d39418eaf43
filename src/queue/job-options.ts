import type { JobsOptions } from 'bullmq';

/** Retry and retention policy of detection jobs. */
export interface JobPolicy {
  /** Attempts for transient failures (storage blips, inference errors). @defaultValue 5 */
  attempts: number;
  /** First backoff delay in ms; doubles on every attempt. @defaultValue 2000 */
  backoffMs: number;
  /**
   * Completed jobs kept (count, per BullMQ queue: per shard); older ones are removed so Redis memory
   * stays bounded. 0 removes each job as it completes, the cheapest for Redis. @defaultValue 1000
   */
  keepCompleted: number;
  /** Failed jobs kept (count), with their reason codes. @defaultValue 50000 */
  keepFailed: number;
}

/** The policy used unless configured otherwise. */
export const DEFAULT_JOB_POLICY: Readonly<JobPolicy> = Object.freeze({
  attempts: 5,
  backoffMs: 2000,
  keepCompleted: 1000,
  keepFailed: 50000,
});

/** BullMQ job options for a policy. */
export function jobOptions(policy: JobPolicy, priority?: number): JobsOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs },
    removeOnComplete: { count: policy.keepCompleted },
    removeOnFail: { count: policy.keepFailed },
    ...(priority ? { priority } : {}),
  };
}
