import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { ModelConfig } from '../config/model-config';
import { FacefleetError } from '../errors';
import { findRepoRoot } from '../models/registry';

/** Where and how the spawned workers run. */
export interface WorkerSpawnOptions {
  redisUrl: string;
  queue: string;
  /** The model settings of the benchmark; the batch size is `batch`. */
  model: Readonly<ModelConfig>;
  batch: number;
  /** Jobs held at once per worker. */
  concurrency: number;
  /** Folder for a V8 CPU profile of each worker (written when it exits); unset: no profile. */
  profileDir?: string;
  /** Folders the workers' `file://` jobs read and write (`--file-roots`). */
  fileRoots: readonly string[];
}

/** Environment names never passed to a benchmark worker: its settings come from flags only. */
const SCRUBBED_ENV = /^(FACEFLEET_(?!MODEL_CACHE$|S3_)|REDIS_URL$)/;

/** The `facefleet worker` flags of a benchmark setting (metrics server off). */
export function workerArgs(o: WorkerSpawnOptions): string[] {
  const m = o.model;
  return [
    'worker',
    '--queue', o.queue,
    '--metrics-port', '0',
    '--file-roots', o.fileRoots.join(','),
    '--model', m.model,
    ...(m.modelPath ? ['--model-path', path.resolve(m.modelPath)] : []),
    '--canvas', String(m.canvas),
    ...(m.maxTiles !== undefined ? ['--max-tiles', String(m.maxTiles)] : []),
    '--batch', String(o.batch),
    '--max-wait-ms', String(m.maxWaitMs),
    '--threads', String(m.threads),
    '--providers', m.providers.join(','),
    ...(m.allowCpuFallback ? ['--allow-cpu-fallback'] : []),
    ...(m.scoreThreshold !== undefined ? ['--score-threshold', String(m.scoreThreshold)] : []),
    '--max-image-mb', String(m.maxImageMb),
    '--max-megapixels', String(m.maxMegapixels),
    '--decode-threads', String(m.decodeThreads),
    ...(m.ortAllowSpinning ? ['--ort-allow-spinning'] : []),
    '--concurrency', String(o.concurrency),
  ];
}

/**
 * One `node bin/facefleet.js worker` child process. Its JSON log on stderr is read for the
 * `worker started` line; the last lines are kept for error messages.
 */
export class WorkerProcess {
  private tail = '';
  private startedLine = false;
  private exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.tail = (this.tail + d).slice(-8000);
      if (!this.startedLine && /"msg":"worker started"/.test(this.tail)) this.startedLine = true;
      this.notify();
    });
    child.stdout?.resume();
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.exitStatus = { code, signal };
        this.notify();
        resolve();
      }),
    );
  }

  /** Spawns a worker with the benchmark's settings and the caller's environment minus facefleet's own. */
  static spawn(options: WorkerSpawnOptions): WorkerProcess {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED_ENV.test(k)) env[k] = v;
    Object.assign(env, { REDIS_URL: options.redisUrl, FACEFLEET_LOG_LEVEL: 'info' });
    const root = findRepoRoot();
    const nodeArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
    const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin', 'facefleet.js'), ...workerArgs(options)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new WorkerProcess(child);
  }

  /** Process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resolves once the worker logged `worker started` (model loaded, taking jobs); fails if it exits first. */
  waitStarted(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new FacefleetError('E_MODEL', `benchmark worker ${this.pid} did not start within ${timeoutMs} ms; its log ends:\n${this.tail}`)), timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (this.startedLine) finish();
        else if (this.exitStatus) finish(new FacefleetError('E_MODEL', `benchmark worker ${this.pid} exited (${JSON.stringify(this.exitStatus)}) before starting; its log ends:\n${this.tail}`));
      };
      this.waiters.add(check);
      check();
    });
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.exitStatus !== undefined;
  }

  /** SIGTERM (a graceful drain), then SIGKILL after `timeoutMs`; resolves when the process is gone. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.exitStatus) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)));
    const killed = await Promise.race([this.exited.then(() => false), late]);
    clearTimeout(timer);
    if (killed) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
