import { loadRunsConfig } from '../config/queue-admin-config';
import { connectRedis } from '../queue/connection';
import { RunStore } from '../queue/run-store';

/** `facefleet runs [id]`: lists recent runs or shows one. */
export async function runRuns(runId: string | undefined, flags: Record<string, unknown>): Promise<number> {
  const config = loadRunsConfig(flags);
  const { json } = config;
  const redis = await connectRedis(config.redisUrl, { onError: (err) => process.stderr.write(`facefleet runs: redis: ${err.message}\n`) });
  // After the connection is up, later errors (a restart) are retried by ioredis; say why without the error whole.
  redis.on('error', (err: Error) => process.stderr.write(`facefleet runs: redis: ${err.message}\n`));
  try {
    const store = new RunStore(redis, { queue: config.queue, prefix: config.redisPrefix });
    if (runId) {
      const run = await store.get(runId);
      if (!run) {
        process.stderr.write(`no run ${runId} on queue ${config.queue}\n`);
        return 1;
      }
      process.stdout.write(`${JSON.stringify(run, null, json ? 0 : 2)}\n`);
      return 0;
    }
    const list = await store.list(config.limit);
    if (json) {
      process.stdout.write(`${JSON.stringify(list)}\n`);
      return 0;
    }
    process.stdout.write(`${'run'.padEnd(36)} ${'done'.padStart(8)} ${'skipped'.padStart(8)} ${'failed'.padStart(8)} ${'total'.padStart(8)}  state    created\n`);
    for (const r of list) {
      const finished = r.done + r.skipped + r.failed >= r.total && r.sealed;
      process.stdout.write(`${r.runId.padEnd(36)} ${String(r.done).padStart(8)} ${String(r.skipped).padStart(8)} ${String(r.failed).padStart(8)} ${String(r.total).padStart(8)}  ${(finished ? 'finished' : r.sealed ? 'running' : 'enqueuing').padEnd(8)} ${r.createdAt}\n`);
    }
    return 0;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
