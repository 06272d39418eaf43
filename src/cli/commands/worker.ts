/**
 * Entry point of `facefleet worker`: read config, build the parts, run until a signal, shut down.
 */
import { loadWorkerConfig } from '../src/config/worker-config';
import { failStart } from '../src/lifecycle/fail-start';
import { createLogger } from '../src/telemetry/logger';
import { startWorker } from '../src/worker/start-worker';

/**
 * Starts a worker from flags and environment. A start that fails has closed what it opened; the error
 * goes to {@link failStart} (exit 64 for a bad configuration, 1 otherwise).
 */
export async function runWorker(flags: Record<string, unknown>): Promise<void> {
  const log = createLogger();
  try {
    const config = loadWorkerConfig(flags);
    log.level = config.logLevel;
    await startWorker(config, log.child({ worker: config.workerId }));
  } catch (err) {
    failStart(err, { command: 'worker', log });
  }
}
