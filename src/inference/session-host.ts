import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { FacefleetError } from '../errors';
import type { FromThread, SessionThreadConfig, WireTensor } from './thread-protocol';

/** Stack of the inference thread beyond what the command line needs, MiB (Node's default is 4). */
const BASE_STACK_MB = 16;
/**
 * Stack bytes per byte of the process's command line. onnxruntime's environment set-up, on the first
 * session of the process, recurses once per command-line character (measured: 4 MiB overflowed at a
 * 15 kB command line, 128 MiB held at 259 kB), so `facefleet detect` with a few hundred long paths
 * overflowed Node's 4 MiB worker stack with SIGSEGV. 512 bytes per character leaves a margin.
 */
const STACK_BYTES_PER_ARGV_BYTE = 512;

/**
 * The inference thread's stack size, MiB: {@link BASE_STACK_MB} plus what `argv` needs (see
 * {@link STACK_BYTES_PER_ARGV_BYTE}). Only touched pages cost memory; the rest is address space.
 */
export function inferenceStackMb(argv: readonly string[] = [...process.execArgv, ...process.argv]): number {
  const bytes = argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  return BASE_STACK_MB + Math.ceil((bytes * STACK_BYTES_PER_ARGV_BYTE) / (1 << 20));
}

/** What the session reported when it loaded. */
export interface SessionInfo {
  inputNames: string[];
  outputNames: string[];
  /** The providers the session runs on (`cuda`, `cpu`), or `cpu (fallback)`. */
  provider: string;
  /** True when the session runs on a device provider (CUDA, TensorRT), not on CPU or a CPU fallback. */
  device: boolean;
  /** Why a device provider was not used and the session fell back to CPU (`--allow-cpu-fallback`). */
  fallbackReason?: string;
  loadMs: number;
}

/** Outputs of one run with the time `session.run` took inside the thread. */
export interface RunResult {
  outputs: Record<string, WireTensor>;
  /** The input tensors, handed back after the run so their memory can be reused (absent from fakes). */
  inputs?: Record<string, WireTensor>;
  /** Rows the session computed: more than the batch's own when a device run was padded (absent from fakes). */
  ranRows?: number;
  runMs: number;
}

interface PendingRun {
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

/**
 * Hosts one onnxruntime session in a worker thread and runs batches on it, one at a time in arrival
 * order. Every run is posted to the thread at once, so a batch submitted while another computes is
 * already waiting in the thread when the session frees: with the engine's two batches in flight the
 * session (a GPU's included) goes from one batch to the next without waiting for the main thread.
 * Input buffers are transferred to the thread (the caller must not touch them meanwhile) and come
 * back in {@link RunResult.inputs} when the run succeeds.
 */
export class SessionHost {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRun>();
  private readonly inflight = new Set<Promise<RunResult>>();
  private infoValue: SessionInfo | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly config: SessionThreadConfig) {}

  /** Starts the thread and loads the model; a load failure is a fatal `E_MODEL` error. */
  static async start(config: SessionThreadConfig): Promise<SessionHost> {
    const host = new SessionHost(config);
    await host.spawn();
    return host;
  }

  /** The loaded session's names, provider and load time. */
  get info(): SessionInfo {
    if (!this.infoValue) throw new Error('session not started');
    return this.infoValue;
  }

  /** True while the thread is alive and not closing. */
  get alive(): boolean {
    return this.worker !== undefined && this.closing === undefined;
  }

  private spawn(): Promise<void> {
    const worker = new Worker(path.join(__dirname, 'session-thread.js'), { workerData: this.config, resourceLimits: { stackSizeMb: inferenceStackMb() } });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on('message', (msg: FromThread) => {
        switch (msg.type) {
          case 'ready':
            started = true;
            this.infoValue = { inputNames: msg.inputNames, outputNames: msg.outputNames, provider: msg.provider, device: msg.device, ...(msg.fallbackReason ? { fallbackReason: msg.fallbackReason } : {}), loadMs: msg.loadMs };
            resolve();
            break;
          case 'start-failed':
            reject(new FacefleetError('E_MODEL', `cannot load model ${this.config.modelPath} with providers [${this.config.providers.join(', ')}]: ${msg.message}`));
            break;
          case 'result':
            this.settle(msg.id, (p) => p.resolve({ outputs: msg.outputs, inputs: msg.inputs, ranRows: msg.ranRows, runMs: msg.runMs }));
            break;
          case 'run-failed':
            this.settle(msg.id, (p) => p.reject(new FacefleetError('E_INFERENCE', `inference failed: ${msg.message}`)));
            break;
          case 'closed':
            break;
        }
      });
      worker.on('error', (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (!started) reject(new FacefleetError('E_MODEL', `inference thread failed to start: ${message}`, { cause: err }));
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        if (!started) reject(new FacefleetError('E_MODEL', `inference thread exited with code ${code} before loading the model`));
        const lost = new FacefleetError('E_INFERENCE', `inference thread exited (code ${code})`);
        for (const p of this.pending.values()) p.reject(lost);
        this.pending.clear();
      });
    });
  }

  private settle(id: number, fn: (p: PendingRun) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    fn(p);
  }

  /** Runs one batch. A dead thread is restarted once before the run. */
  async run(feeds: Record<string, WireTensor>): Promise<RunResult> {
    if (this.closing) throw new FacefleetError('E_SHUTDOWN', 'session is closing');
    if (!this.worker) await this.spawn();
    const id = this.nextId++;
    const transfer = Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer);
    const run = new Promise<RunResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ type: 'run', id, feeds }, transfer);
    });
    this.inflight.add(run);
    const forget = () => this.inflight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /**
   * Ends the thread as soon as it is between runs, without finishing queued runs (they reject) or
   * releasing the session: for a forced process exit, which must not happen while the thread is inside
   * `session.run` (onnxruntime then aborts the process with SIGABRT). Resolves once the thread is gone,
   * or after `timeoutMs`.
   */
  abort(timeoutMs = 10_000): Promise<void> {
    const worker = this.worker;
    this.closing ??= Promise.resolve();
    if (!worker) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'exit' });
    });
  }

  /** Waits for runs in flight, releases the session and ends the thread. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    await Promise.allSettled([...this.inflight]);
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.postMessage({ type: 'close' });
    const timeout = new Promise<void>((r) => setTimeout(r, 5000).unref());
    await Promise.race([exited, timeout]);
    if (this.worker) await worker.terminate();
  }
}
