import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { FacefleetError } from '../errors';
import { findRepoRoot } from '../models/registry';

/** Environment names never inherited by a chaos worker: it gets only what the suite passes. */
export const SCRUBBED_ENV = /^(FACEFLEET_(?!MODEL_CACHE$|TOOLS$)|REDIS_URL$|AWS_)/;

/** How one `facefleet worker` process of the suite runs. */
export interface ChaosWorkerOptions {
  /** Worker id (also the log file's name). */
  id: string;
  /** `facefleet worker` flags (queue, batch, lock duration …). */
  args: string[];
  /** Environment: `REDIS_URL`, S3 endpoint and credentials. */
  env: Record<string, string>;
  /** Folder the worker's JSON log is appended to (`<id>.log`). */
  logDir: string;
  /** Port of `/metrics`, `/healthz`, `/readyz` on 127.0.0.1 (0: none). */
  metricsPort: number;
  /**
   * The command run: `worker`, or `serve` (whose HTTP port, given as `--port` in `args`, is the one
   * probed; `metricsPort` must then be that port). @defaultValue `worker`
   */
  command?: 'worker' | 'serve';
}

/**
 * One `node bin/facefleet.js worker` (or `serve`) child of the chaos suite: its stderr (JSON log lines) goes to a
 * file the suite later greps for credentials and counts lines in; it can be SIGKILLed, drained with
 * SIGTERM, probed on `/readyz` and `/healthz`, and its RSS read from procfs.
 */
export class ChaosWorker {
  readonly logFile: string;
  private readonly child: ChildProcess;
  private status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitedPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly startedPromise: Promise<void>;
  private tail = '';
  private peakRssMb = 0;
  private intended = false;

  constructor(readonly options: ChaosWorkerOptions) {
    this.logFile = path.join(options.logDir, `${options.id}.log`);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED_ENV.test(k)) env[k] = v;
    Object.assign(env, { FACEFLEET_LOG_LEVEL: 'info', MALLOC_ARENA_MAX: '2' }, options.env);
    const root = findRepoRoot();
    const command = options.command ?? 'worker';
    const metrics = command === 'serve' ? [] : options.metricsPort > 0 ? ['--metrics-port', String(options.metricsPort), '--metrics-host', '127.0.0.1'] : ['--metrics-port', '0'];
    // The suite enqueues BlazeFace jobs: reliability does not depend on the model, and the cheapest one
    // keeps the scenarios short.
    const args = [path.join(root, 'bin', 'facefleet.js'), command, '--model', 'blazeface', ...(command === 'worker' ? ['--worker-id', options.id] : []), ...metrics, ...options.args];
    const startedLine = command === 'serve' ? '"msg":"serve listening"' : '"msg":"worker started"';
    this.child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = fs.createWriteStream(this.logFile, { flags: 'a' });
    let started = false;
    let onStart: (() => void) | undefined;
    let onFail: ((e: Error) => void) | undefined;
    this.startedPromise = new Promise<void>((resolve, reject) => ((onStart = resolve), (onFail = reject)));
    this.startedPromise.catch(() => undefined);
    const take = (d: Buffer) => {
      log.write(d);
      this.tail = (this.tail + d.toString('utf8')).slice(-6000);
      if (!started && this.tail.includes(startedLine)) {
        started = true;
        onStart?.();
      }
    };
    this.child.stderr?.on('data', take);
    this.child.stdout?.on('data', take);
    this.exitedPromise = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.status = { code, signal };
        log.end();
        if (!started) onFail?.(new FacefleetError('E_DEPENDENCY', `chaos worker ${options.id} exited (${code ?? signal}) before starting; its log ends:\n${this.tail}`));
        resolve(this.status);
      });
    });
  }

  /** Process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.status === undefined;
  }

  /** True when the process exited without the suite having killed or stopped it: a crash. */
  get crashed(): boolean {
    return this.status !== undefined && !this.intended;
  }

  /** How the process ended, once it has. */
  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.status;
  }

  /** Resolves once the worker logged `worker started`; rejects if it exits first or after `timeoutMs`. */
  async waitStarted(timeoutMs = 60_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FacefleetError('E_DEPENDENCY', `chaos worker ${this.options.id} did not start within ${timeoutMs} ms; its log ends:\n${this.tail}`)), timeoutMs);
    });
    try {
      await Promise.race([this.startedPromise, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL; resolves when the process is gone. */
  async kill(): Promise<void> {
    this.intended = true;
    if (this.running) this.child.kill('SIGKILL');
    await this.exitedPromise;
  }

  /** SIGTERM (drain), SIGKILL after `timeoutMs`; resolves with how it ended. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.intended = true;
    if (this.running) this.child.kill('SIGTERM');
    const late = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const status = await this.exitedPromise;
    clearTimeout(late);
    return status;
  }

  /** Sends a signal (SIGSTOP / SIGCONT to freeze and thaw it). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** HTTP status of a metrics-server path (`/readyz`, `/healthz`, `/metrics`), `undefined` when unreachable. */
  probe(pathname: string, timeoutMs = 2000): Promise<{ status: number; body: string } | undefined> {
    if (this.options.metricsPort <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.options.metricsPort, path: pathname, method: 'GET', timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(undefined));
      req.end();
    });
  }

  /** Samples the resident size; returns the highest seen so far (MiB). */
  sampleRss(): number {
    this.peakRssMb = Math.max(this.peakRssMb, peakRssMb(this.pid) ?? 0);
    return this.peakRssMb;
  }

  /** The last part of the worker's output (for error messages). */
  get logTail(): string {
    return this.tail;
  }
}

/** The larger of `VmRSS` and `VmHWM` (peak resident size) of a process, MiB; undefined without procfs. */
function peakRssMb(pid: number): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? 0);
  return Math.max(kib('VmRSS'), kib('VmHWM')) / 1024;
}
