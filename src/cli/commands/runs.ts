import { loadRunsConfig } from '../../config/queue-admin-config';
import { fieldLabel } from '../../config/parse';
import { connectQueue } from '../../queue/queue-handles';

/** `facefleet runs [id]`: lists recent runs or shows one. */
export async function run(flags: Record<string, unknown>, [runId]: readonly string[] = []): Promise<number> {
  const config = loadRunsConfig(flags);
  const { json } = config;
  const { runs: store, close } = await connectQueue(config, { field: fieldLabel(config, 'shards'), onError: (err) => process.stderr.write(`facefleet runs: redis: ${err.message}\n`), claim: false, withQueues: false });
  try {
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
    await close();
  }
}
