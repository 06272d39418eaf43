import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { freePort } from '../../src/lifecycle/free-port';
import { waitForHttp } from './http-probe';
import { exitOf, stopProcess } from './stop-process';

/** A server process on a loopback port, logging to a file. */
export interface Daemon {
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Its log so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after the grace period. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startDaemon}. */
export interface DaemonOptions {
  /** Name in messages, e.g. `prometheus`. */
  name: string;
  /** The binary. */
  bin: string;
  /** Its arguments for a listening port. */
  args: (port: number) => string[];
  /** Working folder. */
  dir: string;
  /** File stdout and stderr are appended to. */
  logFile: string;
  /** Path answering 2xx once the server is ready, e.g. `/-/ready`. */
  readyPath: string;
  /** ms to wait for it. */
  readyTimeoutMs: number;
  /** ms between SIGTERM and SIGKILL on `stop()`. @defaultValue 10000 */
  graceMs?: number;
}

/**
 * Starts a server on a free 127.0.0.1 port and waits until it is ready. A port taken between picking
 * and binding it (`address already in use` in the log) is tried again on another, twice; otherwise a
 * server that exits or does not get ready is an error with the end of its log.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const log = () => (fs.existsSync(options.logFile) ? fs.readFileSync(options.logFile, 'utf8') : '');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const out = fs.openSync(options.logFile, 'a');
    const child = spawn(options.bin, options.args(port), { cwd: options.dir, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const exited = exitOf(child);
    let gone = false;
    void exited.then(() => (gone = true));
    if (await waitForHttp(`${url}${options.readyPath}`, { timeoutMs: options.readyTimeoutMs, intervalMs: 200, gone: () => gone })) {
      let stopped: Promise<void> | undefined;
      return {
        port,
        url,
        log,
        stop: () => (stopped ??= stopProcess(child, exited, options.graceMs ?? 10_000).then(() => undefined)),
      };
    }
    child.kill('SIGKILL');
    await exited;
    if (attempt < 3 && /address already in use/.test(log())) continue;
    throw new Error(`${options.name} did not get ready on ${url}:\n${log().slice(-3000)}`);
  }
}

/** Options of {@link startConfiguredServer}. */
export interface ConfiguredServerOptions {
  /** Name in messages and of the log file, e.g. `prometheus`. */
  name: string;
  bin: string;
  /** Working folder; the config file, the log and the data go there. */
  dir: string;
  /** Remove `dir` when the server stops, or fails to start. */
  ownDir: boolean;
  /** Config file name in `dir`, and its contents (written as YAML). */
  configFile: string;
  config: unknown;
  /** Its arguments for a listening port, given the config file's path. */
  args: (port: number, configFile: string) => string[];
  /** ms to wait for `/-/ready`. */
  readyTimeoutMs: number;
}

/**
 * Starts a server of the Prometheus project (Prometheus, Alertmanager: a YAML config file, `/-/ready`)
 * in `dir` with {@link startDaemon}. Its `stop()` also removes `dir` when the folder is its own.
 */
export async function startConfiguredServer(options: ConfiguredServerOptions): Promise<Daemon> {
  const { dir } = options;
  const removeDir = () => {
    if (options.ownDir) fs.rmSync(dir, { recursive: true, force: true });
  };
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, options.configFile);
  fs.writeFileSync(configFile, YAML.stringify(options.config));
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      name: options.name,
      bin: options.bin,
      args: (port) => options.args(port, configFile),
      dir,
      logFile: path.join(dir, `${options.name}.log`),
      readyPath: '/-/ready',
      readyTimeoutMs: options.readyTimeoutMs,
    });
  } catch (err) {
    removeDir();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return { ...daemon, stop: () => (stopped ??= daemon.stop().then(removeDir)) };
}
