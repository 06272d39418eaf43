/**
 * Entry point of `facefleet serve`: read config, start the server, run until a signal.
 */
import { loadServeConfig } from '../config/serve-config';
import { FacefleetError } from '../errors';
import { createLogger } from '../telemetry/logger';
import { bindWarning, startServe } from './start-serve';

/** Starts the HTTP API and console from flags and environment; exits non-zero on a fatal start error. */
export async function runServe(flags: Record<string, unknown>): Promise<void> {
  const log = createLogger();
  try {
    // commander gives `console: true` unless --no-console is passed; only the explicit false is a flag,
    // so FACEFLEET_SERVE_CONSOLE still applies otherwise.
    const { console: showConsole, ...rest } = flags;
    const config = loadServeConfig(showConsole === false ? { ...rest, console: false } : rest);
    const server = await startServe(config, log.child({ worker: config.workerId }));
    const warning = bindWarning(config);
    if (warning) process.stderr.write(`facefleet serve: WARNING: ${warning}\n`);
    process.stderr.write(`facefleet serve: listening on ${server.url} (console at ${server.url}/, API at ${server.url}/v1, OpenAPI at ${server.url}/openapi.json)\n`);
  } catch (err) {
    const code = err instanceof FacefleetError ? err.code : 'E_FATAL';
    log.fatal({ code, err: err instanceof Error ? err.message : String(err) }, 'serve cannot start');
    log.flush();
    process.stderr.write(`facefleet serve: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = code === 'E_CONFIG' ? 64 : 1;
    setTimeout(() => process.exit(process.exitCode ?? 1), 200).unref();
  }
}
