import { Job, Queue } from 'bullmq';
import fs from 'node:fs';
import { loadFailedConfig } from '../../config/queue-admin-config';
import { fieldLabel } from '../../config/parse';
import { ERROR_CODES, FacefleetError, isErrorCode, parseReason } from '../../errors';
import { retryFailedJob } from '../../queue/failed-retry';
import { connectQueue } from '../../queue/queue-handles';
import { runOf } from '../../worker/fleet-worker';

/** What the dead-letter view does: `failed list`, `failed retry`, `failed export`. */
const FAILED_ACTIONS = ['list', 'retry', 'export'] as const;

/** One failed job as the dead-letter view shows it. */
export interface FailedEntry {
  jobId: string;
  runId: string;
  key: string;
  source: string;
  code: string;
  message: string;
  attempts: number;
  failedAt: string;
}

/** Filters of the dead-letter view. */
export interface FailedFilter {
  run?: string;
  code?: string;
}

/** Walks every failed job of every shard's queue, page by page, keeping those that match the filter. */
export async function* failedJobs(queues: Queue | readonly Queue[], filter: FailedFilter, pageSize = 500): AsyncGenerator<{ job: Job; entry: FailedEntry; shard: number }> {
  const list: readonly Queue[] = 'getFailed' in queues ? [queues] : queues;
  for (const [shard, queue] of list.entries()) yield* failedOf(queue, shard, filter, pageSize);
}

async function* failedOf(queue: Queue, shard: number, filter: FailedFilter, pageSize: number): AsyncGenerator<{ job: Job; entry: FailedEntry; shard: number }> {
  for (let start = 0; ; start += pageSize) {
    const page = await queue.getFailed(start, start + pageSize - 1);
    for (const job of page) {
      const { code, message } = parseReason(job.failedReason);
      const entry: FailedEntry = {
        jobId: String(job.id),
        runId: String(job.data?.runId ?? ''),
        key: String(job.data?.key ?? ''),
        source: String(job.data?.source ?? ''),
        code,
        message,
        attempts: job.attemptsMade,
        failedAt: new Date(job.finishedOn ?? job.timestamp).toISOString(),
      };
      if (filter.run && entry.runId !== filter.run) continue;
      if (filter.code && entry.code !== filter.code) continue;
      yield { job, entry, shard };
    }
    if (page.length < pageSize) return;
  }
}

/**
 * `facefleet failed [list|retry|export]`: the dead-letter view. `list` prints failed jobs with codes
 * and messages; `retry` re-queues those whose code is transient (or every one with `--all`); `export`
 * writes them as a JSONL manifest (`source` and `key` per line) that `enqueue --manifest` accepts.
 * Every shard of the queue is read; a retried job's counted failure is taken back from its run, which
 * counts it again when it finishes.
 */
export async function run(flags: Record<string, unknown>, [given = 'list']: readonly string[] = []): Promise<number> {
  const action = FAILED_ACTIONS.find((a) => a === given);
  if (!action) throw new FacefleetError('E_CONFIG', `failed: expected ${FAILED_ACTIONS.join(', ')}, got ${given}`);
  const config = loadFailedConfig(action, flags);
  if (config.code && !isErrorCode(config.code)) {
    process.stderr.write(`unknown code ${config.code}; codes: ${Object.keys(ERROR_CODES).join(', ')}\n`);
    return 64;
  }
  const { queues: queue, runs, close } = await connectQueue(config, { field: fieldLabel(config, 'shards'), onError: (err) => process.stderr.write(`facefleet failed: redis: ${err.message}\n`), claim: false });
  const filter = { run: config.run, code: config.code };
  try {
    if (action === 'list') {
      const rows: FailedEntry[] = [];
      for await (const { entry } of failedJobs(queue, filter)) rows.push(entry);
      if (config.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else {
        for (const r of rows) process.stdout.write(`${r.code.padEnd(22)} ${r.runId.padEnd(24)} ${r.key}  ${r.message}\n`);
        process.stderr.write(`${rows.length} failed job(s)\n`);
      }
      return 0;
    }
    if (action === 'retry') {
      let retried = 0;
      let kept = 0;
      const chosen: Array<{ job: Job; entry: FailedEntry; shard: number }> = [];
      for await (const found of failedJobs(queue, filter)) {
        const transient = isErrorCode(found.entry.code) && ERROR_CODES[found.entry.code] === 'transient';
        if (config.all || transient) chosen.push(found);
        else kept++;
      }
      for (const { job, entry, shard } of chosen) {
        if (await retryFailedJob(job, runs, runOf(job), shard, entry.code)) retried++;
      }
      process.stdout.write(`${JSON.stringify({ retried, kept })}\n`);
      return 0;
    }
    const out = config.out ? fs.createWriteStream(config.out) : process.stdout;
    let n = 0;
    for await (const { entry } of failedJobs(queue, filter)) {
      out.write(`${JSON.stringify({ source: entry.source, key: entry.key, code: entry.code })}\n`);
      n++;
    }
    if (config.out) await new Promise<void>((r) => (out as fs.WriteStream).end(() => r()));
    process.stderr.write(`${n} failed job(s) exported${config.out ? ` to ${config.out}` : ''}\n`);
    return 0;
  } finally {
    await close();
  }
}
