/**
 * `facefleet` processes for the tests, the chaos suite and the benchmark: `node bin/facefleet.js …`
 * spawned from the compiled `dist/` with a scrubbed environment, their output (JSON logs on stderr),
 * signals, exit codes, health endpoints and memory.
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import { httpGet, type HttpAnswer } from './http-probe';
import { readProcMemory } from './proc-memory';
import { ExitStatus, exitOf, stopProcess } from './stop-process';

export type { ExitStatus };

/** One JSON log line of a facefleet process (pino). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** Environment variables a child inherits from none of its callers: facefleet's own and `REDIS_URL`. */
export const SCRUBBED_ENV = /^(FACEFLEET_|REDIS_URL$)/;

/** Options of {@link FacefleetProcess.spawn}. */
export interface SpawnOptions {
  /** Environment added to the child's, on top of the parent's without {@link scrub}. */
  env?: Record<string, string>;
  /**
   * Parent variables the child does not inherit, so only what the caller passes configures it.
   * @defaultValue {@link SCRUBBED_ENV}
   */
  scrub?: RegExp;
  /** pino level of the child (`FACEFLEET_LOG_LEVEL`). @defaultValue `info` */
  logLevel?: string;
  /** Node flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** Name in messages (a worker id). @defaultValue `facefleet <command>` */
  name?: string;
  /** File stdout and stderr are appended to as they arrive. */
  logFile?: string;
  /** Characters of stdout and of stderr kept in memory, the last ones (long runs with a `logFile`). @defaultValue all */
  keepChars?: number;
  /** Port of the child's HTTP server on 127.0.0.1 (the metrics server, or serve's port), for {@link FacefleetProcess.probe}. */
  httpPort?: number;
}

/** `bin/facefleet.js` of this checkout. */
function facefleetBin(): string {
  return path.join(findRepoRoot(), 'bin', 'facefleet.js');
}

/** A child's environment: the parent's without the `scrub`bed variables, the log level, then `env`. */
function childEnv(options: Pick<SpawnOptions, 'env' | 'scrub' | 'logLevel'>): Record<string, string> {
  const scrub = options.scrub ?? SCRUBBED_ENV;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !scrub.test(k)) env[k] = v;
  return Object.assign(env, { FACEFLEET_LOG_LEVEL: options.logLevel ?? 'info' }, options.env);
}

/** Options of {@link runFacefleet}. */
export interface RunOptions extends Pick<SpawnOptions, 'env' | 'scrub' | 'logLevel'> {
  /** Killed after this long, ms. @defaultValue 120000 */
  timeoutMs?: number;
}

/**
 * Runs a one-shot `node bin/facefleet.js <args>` to its end (in the checkout's root, with the
 * environment of {@link SpawnOptions}: scrubbed, then `env`) and returns its status and output.
 */
export function runFacefleet(args: readonly string[], options: RunOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [facefleetBin(), ...args], { cwd: findRepoRoot(), encoding: 'utf8', env: childEnv(options), timeout: options.timeoutMs ?? 120_000 });
}

/** A `node bin/facefleet.js …` child process with its output collected. */
export class FacefleetProcess {
  /** Resolves once the process has exited and its output is closed. */
  readonly exited: Promise<ExitStatus>;
  readonly name: string;
  private stdoutText = '';
  private stderrText = '';
  private status: ExitStatus | undefined;
  private intended = false;
  private peakRssMb = 0;
  private readonly listeners = new Set<() => void>();
  private readonly logStream: fs.WriteStream | undefined;

  private constructor(
    readonly child: ChildProcess,
    private readonly options: SpawnOptions & { name: string },
  ) {
    this.name = options.name;
    this.logStream = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => this.append('stdout', d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => this.append('stderr', d));
    this.exited = exitOf(child, 'close').then(async (status) => {
      // The log file is complete once the exit is known, for whoever reads it next.
      await new Promise<void>((resolve) => (this.logStream ? this.logStream.end(resolve) : resolve()));
      this.status = status;
      this.notify();
      return status;
    });
  }

  /** Spawns `node bin/facefleet.js <args>` from the repository root. */
  static spawn(args: readonly string[], options: SpawnOptions = {}): FacefleetProcess {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), facefleetBin(), ...args], { cwd: findRepoRoot(), env: childEnv(options), stdio: ['ignore', 'pipe', 'pipe'] });
    return new FacefleetProcess(child, { ...options, name: options.name ?? `facefleet ${args[0] ?? ''}`.trim() });
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.status === undefined;
  }

  /** How the process ended, once it has. */
  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** True when the process exited without {@link kill} or {@link stop} ending it: a crash. */
  get crashed(): boolean {
    return this.status !== undefined && !this.intended;
  }

  /** The file its output is appended to, when there is one. */
  get logFile(): string | undefined {
    return this.options.logFile;
  }

  /** Everything written to stdout so far (its end, with `keepChars`). */
  get stdout(): string {
    return this.stdoutText;
  }

  /** Everything written to stderr so far (its end, with `keepChars`). */
  get stderr(): string {
    return this.stderrText;
  }

  /** The JSON log lines on stderr so far (other lines, e.g. onnxruntime's own, are skipped). */
  logs(): LogLine[] {
    const lines: LogLine[] = [];
    for (const line of this.stderrText.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line) as LogLine;
        if (typeof parsed.msg === 'string') lines.push(parsed);
      } catch {
        // A line still being written; it is complete on the next read.
      }
    }
    return lines;
  }

  /** The first log line with this message, or `undefined`. */
  log(msg: string): LogLine | undefined {
    return this.logs().find((l) => l.msg === msg);
  }

  /**
   * Waits for a log line with message `msg`; rejects if the process exits first or after `timeoutMs`,
   * with the process's stderr in the error.
   */
  waitForLog(msg: string, timeoutMs = 60_000): Promise<LogLine> {
    return this.waitFor(`log line "${msg}"`, () => this.log(msg), timeoutMs);
  }

  /** Waits for stderr to match `pattern` (a line that is not a JSON log, e.g. a command's own message); resolves with the match. */
  waitForOutput(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    return this.waitFor(`output ${pattern}`, () => pattern.exec(this.stderrText) ?? undefined, timeoutMs);
  }

  /** Waits for the worker's `worker started` line (the model is loaded and jobs are being taken). */
  waitForStart(timeoutMs = 60_000): Promise<LogLine> {
    return this.waitForLog('worker started', timeoutMs);
  }

  /** Waits for the exit; rejects after `timeoutMs` with the process's stderr in the error. */
  waitForExit(timeoutMs = 60_000): Promise<ExitStatus> {
    return this.waitFor('exit', () => this.status, timeoutMs, false);
  }

  /** Sends a signal (no-op once exited): SIGTERM to drain, SIGSTOP and SIGCONT to freeze and thaw. */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGKILLs the process if it is still running and waits until it is gone. */
  async kill(): Promise<ExitStatus> {
    this.intended = true;
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (a worker drains), SIGKILL after `timeoutMs`; resolves with how it ended. */
  async stop(timeoutMs = 30_000): Promise<ExitStatus> {
    this.intended = true;
    if (!this.running) return this.exited;
    return stopProcess(this.child, this.exited, timeoutMs);
  }

  /** GET of a path of its HTTP server (`/readyz`, `/healthz`, `/metrics`); `undefined` when unreachable or without one. */
  probe(pathname: string, timeoutMs = 2000): Promise<HttpAnswer | undefined> {
    const port = this.options.httpPort ?? 0;
    if (port <= 0) return Promise.resolve(undefined);
    return httpGet(`http://127.0.0.1:${port}${pathname}`, { timeoutMs });
  }

  /** Samples the resident size; returns the highest seen so far (the larger of `VmRSS` and `VmHWM`), MiB. */
  sampleRss(): number {
    const m = readProcMemory(this.pid);
    if (m) this.peakRssMb = Math.max(this.peakRssMb, m.rssMb, m.hwmMb);
    return this.peakRssMb;
  }

  private append(stream: 'stdout' | 'stderr', data: string): void {
    this.logStream?.write(data);
    const keep = this.options.keepChars;
    if (stream === 'stdout') this.stdoutText = keep ? (this.stdoutText + data).slice(-keep) : this.stdoutText + data;
    else this.stderrText = keep ? (this.stderrText + data).slice(-keep) : this.stderrText + data;
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number, failOnExit = true): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.listeners.delete(check);
        clearTimeout(timer);
      };
      const check = () => {
        const value = probe();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (failOnExit && this.status) {
          done();
          reject(new Error(`${this.name} (pid ${this.pid}) exited (${JSON.stringify(this.status)}) before ${what}; stderr:\n${this.stderrText.slice(-4000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} from ${this.name} (pid ${this.pid}) within ${timeoutMs} ms; stderr:\n${this.stderrText.slice(-4000)}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }
}
