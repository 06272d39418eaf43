import { Job, Queue } from 'bullmq';
import fs from 'node:fs';
import { loadFailedConfig } from '../config/queue-admin-config';
import { ERROR_CODES, isErrorCode, parseReason } from '../errors';
import { connectRedis } from '../queue/connection';

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

/** Walks every failed job, page by page, keeping those that match the filter. */
export async function* failedJobs(queue: Queue, filter: FailedFilter, pageSize = 500): AsyncGenerator<{ job: Job; entry: FailedEntry }> {
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
      yield { job, entry };
    }
    if (page.length < pageSize) return;
  }
}

/**
 * `facefleet failed [list|retry|export]`: the dead-letter view. `list` prints failed jobs with codes
 * and messages; `retry` re-queues those whose code is transient (or every one with `--all`); `export`
 * writes them as a JSONL manifest (`source` and `key` per line) that `enqueue --manifest` accepts.
 */
export async function runFailed(action: 'list' | 'retry' | 'export', cliFlags: Record<string, unknown>): Promise<number> {
  const config = loadFailedConfig(action, cliFlags);
  if (config.code && !isErrorCode(config.code)) {
    process.stderr.write(`unknown code ${config.code}; codes: ${Object.keys(ERROR_CODES).join(', ')}\n`);
    return 64;
  }
  const redis = await connectRedis(config.redisUrl, { onError: (err) => process.stderr.write(`facefleet failed: redis: ${err.message}\n`) });
  const queue = new Queue(config.queue, { connection: redis, prefix: config.redisPrefix });
  // Without a listener BullMQ prints connection errors whole with console.error.
  queue.on('error', (err) => process.stderr.write(`facefleet failed: redis: ${err.message}\n`));
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
      const chosen: Job[] = [];
      for await (const { job, entry } of failedJobs(queue, filter)) {
        const transient = isErrorCode(entry.code) && ERROR_CODES[entry.code] === 'transient';
        if (config.all || transient) chosen.push(job);
        else kept++;
      }
      for (const job of chosen) {
        await job.retry('failed');
        retried++;
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
    await queue.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}
