/**
 * `facefleet serve`: read config, start the server, run until a signal.
 */
import { loadServeConfig } from '../../config/serve-config';
import { failStart } from '../../lifecycle/fail-start';
import { bindWarning, startServe } from '../../serve/start-serve';
import { createLogger } from '../../telemetry/logger';

/**
 * Starts the HTTP API and console from flags and environment; resolves with 0 once it listens. A
 * start that fails has closed what it opened; the error goes to `failStart`, whose exit code (64 for a
 * bad configuration, 1 otherwise) it resolves with.
 */
export async function run(flags: Record<string, unknown>): Promise<number> {
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
    return 0;
  } catch (err) {
    return failStart(err, { command: 'serve', log });
  }
}
