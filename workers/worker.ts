/**
 * Entry point of `facefleet worker`: read config, build the parts, run until a signal, shut down.
 */
import { loadWorkerConfig } from '../src/config/worker-config';
import { FacefleetError } from '../src/errors';
import { createLogger } from '../src/telemetry/logger';
import { startWorker } from '../src/worker/start-worker';

/** Starts a worker from flags and environment; exits non-zero on a fatal start error. */
export async function runWorker(flags: Record<string, unknown>): Promise<void> {
  const log = createLogger();
  try {
    const config = loadWorkerConfig(flags);
    await startWorker(config, log.child({ worker: config.workerId }));
  } catch (err) {
    const code = err instanceof FacefleetError ? err.code : 'E_FATAL';
    log.fatal({ code, err: err instanceof Error ? err.message : String(err) }, 'worker cannot start');
    log.flush();
    process.stderr.write(`facefleet worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
  }
}
