/**
 * `facefleet enqueue`: read config, stream keys into the queue as one run, optionally
 * follow it to the end.
 */
import cliProgress from 'cli-progress';
import { watchRun } from '../../progress/run-progress';
import { runTtlSeconds } from '../../config/common';
import { loadProducerConfig } from '../../config/producer-config';
import { fieldLabel } from '../../config/parse';
import { enqueueRun } from '../../producer/enqueue-run';
import { fromArgs, fromPrefix, SourceKey } from '../../producer/key-sources';
import { manifestBatches } from '../../producer/manifest';
import { connectQueue } from '../../queue/queue-handles';
import { s3ClientConfigFromEnv } from '../../storage/s3-client-config';
import { StoreRegistry } from '../../storage/store-registry';

/** Runs an enqueue from CLI flags and positional keys; resolves with the process exit code. */
export async function run(flags: Record<string, unknown>, keys: readonly string[] = []): Promise<number> {
  const config = loadProducerConfig(flags);
  const sources = [keys.length > 0, !!config.prefix, !!config.manifest].filter(Boolean).length;
  if (sources !== 1) throw new Error('give exactly one source of keys: keys as arguments, --prefix URL, or --manifest FILE');
  const sayRedisError = (err: Error) => process.stderr.write(`facefleet enqueue: redis: ${err.message}\n`);
  // A refused password ends the command here (E_CONFIG); an unreachable Redis is retried, saying why.
  // A shard count other than the one recorded for the queue ends it here too (E_CONFIG).
  const { redis, queues, runs, close } = await connectQueue(config, { field: fieldLabel(config, 'shards'), onError: sayRedisError, runs: { ttlSeconds: runTtlSeconds(config.runTtlDays) } });
  const stores = new StoreRegistry({ s3: s3ClientConfigFromEnv(process.env) });
  const interactive = !config.json && process.stderr.isTTY === true;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const stream: AsyncIterable<SourceKey | SourceKey[]> = config.prefix
      ? fromPrefix(stores, config.prefix)
      : config.manifest
        ? manifestBatches(config.manifest, config.base)
        : fromArgs(keys, config.base);
    const counter = interactive
      ? new cliProgress.SingleBar({ format: ' enqueued {value} keys | {note}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
      : undefined;
    counter?.start(0, 0, { note: '' });
    // Why enqueueing waits: on the progress bar, or without one once per pause (until a chunk goes in).
    let paused = false;
    const waiting = (note: string) => {
      if (counter) counter.update({ note });
      else if (!paused) process.stderr.write(`facefleet enqueue: ${note}\n`);
      paused = true;
    };
    const report = await enqueueRun(queues, redis, runs, stream, {
      runId: config.runId,
      results: config.results,
      model: config.model,
      incremental: config.incremental,
      priority: config.priority,
      chunkSize: config.chunkSize,
      maxBacklog: config.maxBacklog,
      maxRedisMemoryMb: config.maxRedisMemoryMb,
      policy: { attempts: config.attempts, backoffMs: 2000, keepCompleted: config.keepCompleted, keepFailed: 50_000 },
      onBackpressure: (backlog) => waiting(`waiting: backlog ${backlog} ≥ --max-backlog ${config.maxBacklog}; enqueueing resumes as workers take jobs`),
      onMemoryPressure: (usedMb) => waiting(`waiting: Redis uses ${usedMb.toFixed(0)} MiB > --max-redis-memory-mb ${config.maxRedisMemoryMb}; enqueueing resumes below it`),
      onProgress: (n, dup) => {
        paused = false;
        counter?.update(n, { note: dup ? `${dup} already queued` : '' });
      },
      signal: abort.signal,
    });
    counter?.stop();
    if (!config.json) process.stderr.write(`run ${report.runId}: ${report.enqueued} jobs enqueued${report.duplicates ? `, ${report.duplicates} already queued` : ''} on queue ${config.queue}\n`);
    if (!config.wait) {
      if (config.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      return 0;
    }
    const status = await watchRun(runs, report.runId, { bar: interactive, signal: abort.signal });
    if (config.json) process.stdout.write(`${JSON.stringify(status)}\n`);
    else process.stderr.write(`run ${status.runId}: ${status.done} done, ${status.skipped} skipped, ${status.failed} failed of ${status.total}\n`);
    return status.failed > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stores.closeAll();
    await close();
  }
}
