/**
 * Process-level test support: `facefleet` CLI processes spawned from the compiled `dist/` (as
 * `node bin/facefleet.js …`), their JSON logs, signals and exit codes; and the photo runs those
 * workers chew through (fixture photos copied under many keys, results read back from the folder).
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import type { DetectionResult } from '../../src/queue/result';
import { allFixtures, fixturesRoot } from './fixtures';
import { testFileRootsFlag } from './test-roots';

/** One JSON log line of a facefleet process (pino). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** How a process ended. */
export interface ExitStatus {
  /** Exit code, or `null` when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options of {@link CliProcess.spawn}. */
export interface SpawnOptions {
  /**
   * Environment added to the child's. Every `FACEFLEET_*` variable and `REDIS_URL` of the test process
   * is removed first, so only what a test passes reaches the child.
   */
  env?: Record<string, string>;
  /** pino level of the child. @defaultValue `info` */
  logLevel?: string;
}

/** Environment variables never inherited by a child. */
const SCRUBBED_ENV = /^(FACEFLEET_|REDIS_URL$)/;

/** A `node bin/facefleet.js …` child process with its output collected. */
export class CliProcess {
  /** Resolves once the process has exited and its output is closed. */
  readonly exited: Promise<ExitStatus>;
  private stdoutText = '';
  private stderrText = '';
  private status: ExitStatus | undefined;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => this.append('stdout', d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => this.append('stderr', d));
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.status = { code, signal };
        this.notify();
        resolve(this.status);
      });
    });
  }

  /** Spawns `node bin/facefleet.js <args>` from the repository root. */
  static spawn(args: readonly string[], options: SpawnOptions = {}): CliProcess {
    const root = findRepoRoot();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED_ENV.test(k)) env[k] = v;
    Object.assign(env, { FACEFLEET_LOG_LEVEL: options.logLevel ?? 'info' }, options.env);
    const child = spawn(process.execPath, [path.join(root, 'bin', 'facefleet.js'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new CliProcess(child);
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.status === undefined;
  }

  /** Everything written to stdout so far. */
  get stdout(): string {
    return this.stdoutText;
  }

  /** Everything written to stderr so far. */
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

  /** Waits for the worker's `worker started` line (the model is loaded and jobs are being taken). */
  waitForStart(timeoutMs = 60_000): Promise<LogLine> {
    return this.waitForLog('worker started', timeoutMs);
  }

  /** Sends a signal (no-op once exited). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** Waits for the exit; rejects after `timeoutMs` with the process's stderr in the error. */
  waitForExit(timeoutMs = 60_000): Promise<ExitStatus> {
    return this.waitFor('exit', () => this.status, timeoutMs, false);
  }

  /** SIGKILLs the process if it is still running and waits until it is gone. */
  async kill(): Promise<ExitStatus> {
    this.signal('SIGKILL');
    return this.exited;
  }

  private append(stream: 'stdout' | 'stderr', data: string): void {
    if (stream === 'stdout') this.stdoutText += data;
    else this.stderrText += data;
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
          reject(new Error(`process ${this.pid} exited (${JSON.stringify(this.status)}) before ${what}; stderr:\n${this.stderrText}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} from process ${this.pid} within ${timeoutMs} ms; stderr:\n${this.stderrText.slice(-4000)}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }
}

/** The processes a test file spawned, so `afterAll` can kill every one of them even after a failure. */
export class ProcessGroup {
  private readonly processes: CliProcess[] = [];

  /** Spawns `node bin/facefleet.js <args>` and tracks it. */
  spawn(args: readonly string[], options: SpawnOptions = {}): CliProcess {
    const p = CliProcess.spawn(args, options);
    this.processes.push(p);
    return p;
  }

  /** Spawns `facefleet worker` on a queue, metrics server off, with extra flags. */
  spawnWorker(redisUrl: string, queue: string, flags: readonly string[] = [], options: SpawnOptions = {}): CliProcess {
    return this.spawn(['worker', '--queue', queue, '--metrics-port', '0', ...flags], { ...options, env: { REDIS_URL: redisUrl, FACEFLEET_FILE_ROOTS: testFileRootsFlag(), ...options.env } });
  }

  /** SIGKILLs every process still running and waits for them. */
  async killAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill()));
  }
}

/** One image of a {@link PhotoSet}. */
export interface PhotoCopy {
  /** Key relative to the source folder, e.g. `copy-017/faces-basic/astronaut.png`; also the result's key. */
  key: string;
  /** Absolute path of the copy. */
  path: string;
}

/**
 * Copies the decodable fixture photos into `dir` under `copy-NNN/<fixture folder>/`, round after
 * round, until there are `count` images (error fixtures are left out so every job should succeed).
 */
export function copyPhotos(dir: string, count: number): PhotoCopy[] {
  const photos = allFixtures().filter((f) => !f.expectError);
  if (photos.length === 0) throw new Error('no decodable fixture photos');
  const copies: PhotoCopy[] = [];
  for (let n = 0; copies.length < count; n++) {
    const folder = `copy-${String(n).padStart(3, '0')}`;
    for (const f of photos.slice(0, count - copies.length)) {
      const key = `${folder}/${path.relative(fixturesRoot(), f.path).split(path.sep).join('/')}`;
      fs.mkdirSync(path.dirname(path.join(dir, key)), { recursive: true });
      fs.copyFileSync(f.path, path.join(dir, key));
      copies.push({ key, path: path.join(dir, key) });
    }
  }
  return copies;
}

/** What a results folder holds. */
export interface ResultsScan {
  /** Result files by key (`<key>.json` → `<key>`). */
  results: Map<string, DetectionResult>;
  /** Result files that do not parse as a result of their own key, with the reason. */
  bad: Array<{ file: string; reason: string }>;
  /** Leftover temporary files of interrupted writes (`.<name>.<random>.tmp`). */
  temps: string[];
  /** Any other file. */
  other: string[];
}

/** Reads every file under a results folder (missing folder: empty). */
export function scanResults(dir: string): ResultsScan {
  const scan: ResultsScan = { results: new Map(), bad: [], temps: [], other: [] };
  if (!fs.existsSync(dir)) return scan;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.relative(dir, path.join(entry.parentPath, entry.name));
    if (/^\..+\.tmp$/.test(entry.name)) scan.temps.push(file);
    else if (!file.endsWith('.json')) scan.other.push(file);
    else {
      const key = file.slice(0, -'.json'.length);
      try {
        const result = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as DetectionResult;
        if (result.key !== key) scan.bad.push({ file, reason: `key is ${JSON.stringify(result.key)}` });
        else if (!Array.isArray(result.faces)) scan.bad.push({ file, reason: 'no faces array' });
        else scan.results.set(key, result);
      } catch (err) {
        scan.bad.push({ file, reason: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  return scan;
}

/** Number of `.json` files under a folder (cheap progress probe; missing folder: 0). */
export function countJsonFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.json')).length;
}

/** Polls `probe` every `intervalMs` until it returns a value other than `undefined`; rejects after `timeoutMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
