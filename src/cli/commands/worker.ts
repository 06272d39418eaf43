/**
 * `facefleet worker`: read config, build the parts, run until a signal, shut down.
 */
import { loadWorkerConfig } from '../../config/worker-config';
import { failStart } from '../../lifecycle/fail-start';
import { createLogger } from '../../telemetry/logger';
import { startWorker } from '../../worker/start-worker';

/**
 * Starts a worker from flags and environment; resolves with 0 once it takes jobs. A start that fails
 * has closed what it opened; the error goes to {@link failStart}, whose exit code (64 for a bad
 * configuration, 1 otherwise) it resolves with.
 */
export async function run(flags: Record<string, unknown>): Promise<number> {
  const log = createLogger();
  try {
    const config = loadWorkerConfig(flags);
    log.level = config.logLevel;
    // A shard count that does not match the queue's is found once Redis answers, after the start.
    await startWorker(config, log.child({ worker: config.workerId }), { onFatal: (err) => failStart(err, { command: 'worker', log }) });
    return 0;
  } catch (err) {
    return failStart(err, { command: 'worker', log });
  }
}
