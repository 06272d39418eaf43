/**
 * Entry point of `facefleet serve`: read config, start the server, run until a signal.
 */
import { loadServeConfig } from '../config/serve-config';
import { failStart } from '../lifecycle/fail-start';
import { createLogger } from '../telemetry/logger';
import { bindWarning, startServe } from './start-serve';

/**
 * Starts the HTTP API and console from flags and environment. A start that fails has closed what it
 * opened; the error goes to `failStart` (exit 64 for a bad configuration, 1 otherwise).
 */
export async function runServe(flags: Record<string, unknown>): Promise<void> {
  const log = createLogger();
  try {
    // commander gives `console: true` unless --no-console is passed; only the explicit false is a flag,
    // so FACEFLEET_SERVE_CONSOLE still applies otherwise.
    const { console: showConsole, ...rest } = flags;
    const config = loadServeConfig(showConsole === false ? { ...rest, console: false } : rest);
    log.level = config.logLevel;
    const server = await startServe(config, log.child({ worker: config.workerId }));
    const warning = bindWarning(config);
    if (warning) process.stderr.write(`facefleet serve: WARNING: ${warning}\n`);
    process.stderr.write(`facefleet serve: listening on ${server.url} (console at ${server.url}/, API at ${server.url}/v1, OpenAPI at ${server.url}/openapi.json)\n`);
  } catch (err) {
    failStart(err, { command: 'serve', log });
  }
}
