import type { Job, Queue } from 'bullmq';
import { parseReason } from '../../src/errors';
import { jobIdFor } from '../../src/queue/job-data';
import { parseResult } from '../../src/queue/result-schema';
import type { SourceKey } from '../../src/producer/key-sources';
import type { ObjectStore } from '../../src/storage/object-store';
import type { AccessLogEntry } from '../harness/s3-server';

/** What one run left behind, key by key. */
export interface RunAudit {
  images: number;
  /** Images with a valid result whose job completed. */
  succeeded: number;
  /** Images whose job failed with a classified reason (`CODE: message`, a known code). */
  failed: number;
  /** Images without an outcome: no job, a job still unfinished, a failure without a known code, or a completed job without its result. */
  lost: number;
  /** Result objects that do not parse as a v1 result of their own key, source and run, or that no job asked for. */
  corrupt: number;
  /** Times a job was taken back from a holder that lost it (killed, or its lock expired) and run again: BullMQ's stalled counters. */
  duplicatesExecuted: number;
  /** Successful PutObject requests for a result beyond the first of its key. */
  duplicatesWritten: number;
  /** Failed images by code. */
  failuresByCode: Record<string, number>;
  /** Up to 10 lost keys with why, for the report. */
  lostSamples: Array<{ key: string; why: string }>;
  /** Up to 10 corrupt result keys with why. */
  corruptSamples: Array<{ key: string; why: string }>;
  /** Per enqueued image, in order: `ok`, its failure code, or `lost`. */
  outcomes: string[];
}

/** What {@link auditRun} reads. */
export interface AuditInput {
  queue: Queue;
  runId: string;
  model: string;
  /** Every enqueued image. */
  keys: readonly SourceKey[];
  /** The results bucket and the key prefix of this run's results (`<prefix><key>.json`). */
  results: ObjectStore;
  resultsPrefix: string;
  /** The S3 server's access log entries of the results bucket (for writes per key). */
  accessLog: readonly AccessLogEntry[];
}

/**
 * Checks the promise of the fleet for one run: every enqueued image ends with exactly one complete
 * result or one classified failure. Reads every job of the run (BullMQ keeps them all under the
 * suite's retention policy), every result object under the run's prefix (parsed against the v1
 * schema), and the server's log of result writes.
 */
export async function auditRun(input: AuditInput): Promise<RunAudit> {
  const audit: RunAudit = { images: input.keys.length, succeeded: 0, failed: 0, lost: 0, corrupt: 0, duplicatesExecuted: 0, duplicatesWritten: 0, failuresByCode: {}, lostSamples: [], corruptSamples: [], outcomes: [] };
  const expected = new Map(input.keys.map((k) => [k.key, k]));
  const valid = await readResults(input, expected, audit);
  const jobs = await loadJobs(input);
  input.keys.forEach((k, i) => {
    const { job, state } = jobs[i];
    const lost = (why: string) => {
      audit.outcomes[i] = 'lost';
      audit.lost++;
      if (audit.lostSamples.length < 10) audit.lostSamples.push({ key: k.key, why });
    };
    if (!job) return lost('no job');
    audit.duplicatesExecuted += job.stalledCounter ?? 0;
    if (state === 'completed') {
      if (!valid.has(k.key)) return lost('completed without a valid result');
      audit.succeeded++;
      audit.outcomes[i] = 'ok';
      return;
    }
    if (state === 'failed') {
      const { code, coded } = parseReason(job.failedReason);
      if (!coded) return lost(`failed without a classified reason: ${String(job.failedReason).slice(0, 120)}`);
      audit.failed++;
      audit.failuresByCode[code] = (audit.failuresByCode[code] ?? 0) + 1;
      audit.outcomes[i] = code;
      return;
    }
    lost(`no outcome (job ${state})`);
  });
  const writes = new Map<string, number>();
  for (const e of input.accessLog) {
    if (e.action !== 'PutObject' || e.status !== 200 || !e.key.startsWith(input.resultsPrefix)) continue;
    writes.set(e.key, (writes.get(e.key) ?? 0) + 1);
  }
  for (const n of writes.values()) audit.duplicatesWritten += Math.max(0, n - 1);
  return audit;
}

/** Parses every result object under the prefix; returns the keys with a valid result. */
async function readResults(input: AuditInput, expected: Map<string, SourceKey>, audit: RunAudit): Promise<Set<string>> {
  const valid = new Set<string>();
  const corrupt = (key: string, why: string) => {
    audit.corrupt++;
    if (audit.corruptSamples.length < 10) audit.corruptSamples.push({ key, why });
  };
  const objects: string[] = [];
  for await (const entry of input.results.list(input.resultsPrefix)) objects.push(entry.key);
  await inParallel(objects, 16, async (objectKey) => {
    const rel = objectKey.slice(input.resultsPrefix.length);
    if (!rel.endsWith('.json')) return corrupt(rel, 'not a .json result');
    const key = rel.slice(0, -'.json'.length);
    const want = expected.get(key);
    if (!want) return corrupt(key, 'no job asked for this result');
    try {
      const result = parseResult((await input.results.get(objectKey)).body.toString('utf8'));
      if (result.key !== key) return corrupt(key, `key is ${JSON.stringify(result.key)}`);
      if (result.source.url !== want.source) return corrupt(key, `source is ${result.source.url}`);
      if (result.runId !== input.runId) return corrupt(key, `run is ${result.runId}`);
      valid.add(key);
    } catch (err) {
      corrupt(key, err instanceof Error ? err.message.slice(0, 200) : String(err));
    }
  });
  return valid;
}

/** The job of every key (deterministic ids) and its state; `job` is undefined where none exists. */
async function loadJobs(input: AuditInput): Promise<Array<{ job: Job | undefined; state: string }>> {
  const jobs: Array<{ job: Job | undefined; state: string }> = new Array(input.keys.length);
  await inParallel(input.keys.map((k, i) => ({ k, i })), 64, async ({ k, i }) => {
    const id = jobIdFor(k.source, input.model, input.runId);
    const [job, state] = await Promise.all([input.queue.getJob(id), input.queue.getJobState(id)]);
    jobs[i] = { job, state };
  });
  return jobs;
}

/** Runs `fn` over `items` with at most `parallel` calls in flight. */
export async function inParallel<T>(items: readonly T[], parallel: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, lane));
}
