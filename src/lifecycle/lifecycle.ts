import type { Logger } from 'pino';

/** Process state. */
export type LifecycleState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/**
 * The phases of shutdown, in the order they run: stop taking work (and finish what is in hand) →
 * background work → the inference session → clients of Redis and storage (queues, monitors, stores) →
 * Redis connections → servers that stay up for the drain (`/metrics`, `/readyz`) → logs.
 */
export const SHUTDOWN_PHASES = ['intake', 'background', 'session', 'clients', 'connections', 'server', 'logs'] as const;

/** One phase of {@link SHUTDOWN_PHASES}. */
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

/** A named step of shutdown. */
export interface Closer {
  name: string;
  /** When it runs; closers of one phase run in the order they were added. */
  phase: ShutdownPhase;
  close: () => Promise<void> | void;
}

/** Longest a signalled exit waits for the log lines already written to leave the process, ms. */
export const LOG_FLUSH_WAIT_MS = 2000;

/** Options of {@link Lifecycle}. */
export interface LifecycleOptions {
  /** Hard deadline for the whole shutdown, in ms; past it the process exits non-zero. @defaultValue 25000 */
  drainDeadlineMs: number;
  logger?: Logger;
  /** Called to end the process; tests replace it. @defaultValue process.exit */
  exit?: (code: number) => void;
  /** Longest a signalled exit waits for the logger's flush, ms. @defaultValue {@link LOG_FLUSH_WAIT_MS} */
  logFlushWaitMs?: number;
}

/**
 * One place for process state, signal handling and ordered shutdown. A start adds each resource's
 * closer as soon as the resource exists, so a start that fails part-way closes what it opened with the
 * same `close()`. Closers run by {@link SHUTDOWN_PHASES} phase, in registration order within one, each in
 * its own try/catch; `close()` is idempotent (returns the same promise). A second signal or the
 * deadline forces a non-zero exit.
 */
export class Lifecycle {
  private stateValue: LifecycleState = 'starting';
  private readonly closers: Closer[] = [];
  private closing: Promise<boolean> | undefined;
  private readonly exit: (code: number) => void;
  private signalHandler: ((signal: NodeJS.Signals) => void) | undefined;

  constructor(private readonly options: LifecycleOptions) {
    this.exit = options.exit ?? ((code) => process.exit(code));
  }

  get state(): LifecycleState {
    return this.stateValue;
  }

  /** Marks start-up complete. */
  running(): void {
    if (this.stateValue === 'starting') this.stateValue = 'running';
  }

  /** Adds a shutdown step to its phase (after the steps already there). */
  add(closer: Closer): void {
    this.closers.push(closer);
  }

  /** Runs every closer once; resolves true when all succeeded. */
  close(): Promise<boolean> {
    if (!this.closing) this.closing = this.runClosers();
    return this.closing;
  }

  private async runClosers(): Promise<boolean> {
    this.stateValue = 'draining';
    let ok = true;
    const rank = (c: Closer) => SHUTDOWN_PHASES.indexOf(c.phase);
    // Array.prototype.sort is stable: registration order holds within a phase.
    for (const c of [...this.closers].sort((a, b) => rank(a) - rank(b))) {
      const t0 = Date.now();
      try {
        await c.close();
        this.options.logger?.debug({ step: c.name, ms: Date.now() - t0 }, 'shutdown step done');
      } catch (err) {
        ok = false;
        this.options.logger?.error({ step: c.name, err }, 'shutdown step failed');
      }
    }
    this.stateValue = ok ? 'stopped' : 'failed';
    return ok;
  }

  /**
   * Handles SIGTERM and SIGINT: the first drains within the deadline and exits 0 (1 if a step failed);
   * a second signal, or the deadline, exits 1 at once.
   */
  handleSignals(): void {
    let signals = 0;
    this.signalHandler = (signal) => {
      signals++;
      if (signals > 1) {
        this.options.logger?.warn({ signal }, 'second signal: exiting now');
        this.flushThenExit(1);
        return;
      }
      this.options.logger?.info({ signal, deadlineMs: this.options.drainDeadlineMs }, 'draining');
      const deadline = setTimeout(() => {
        this.options.logger?.error({ deadlineMs: this.options.drainDeadlineMs }, 'drain deadline passed: exiting');
        this.flushThenExit(1);
      }, this.options.drainDeadlineMs);
      deadline.unref();
      void this.close().then((ok) => {
        clearTimeout(deadline);
        this.options.logger?.info({ ok }, 'stopped');
        this.flushThenExit(ok ? 0 : 1);
      });
    };
    process.on('SIGTERM', this.signalHandler);
    process.on('SIGINT', this.signalHandler);
  }

  /**
   * Exits once the log lines written so far have reached their file descriptor, or after
   * `logFlushWaitMs` if they cannot (a pool thread stuck on a hung disk). The logger writes
   * asynchronously through libuv's pool; exiting with a write still queued there would lose those
   * lines, or let the exit-time synchronous flush print later lines before them.
   */
  private flushThenExit(code: number): void {
    const logger = this.options.logger;
    if (!logger) {
      this.exit(code);
      return;
    }
    let exited = false;
    const exit = () => {
      if (exited) return;
      exited = true;
      clearTimeout(timer);
      this.exit(code);
    };
    const timer = setTimeout(exit, this.options.logFlushWaitMs ?? LOG_FLUSH_WAIT_MS);
    logger.flush(() => exit());
  }

  /** Removes the signal handlers (for embedding, e.g. the demo). */
  releaseSignals(): void {
    if (!this.signalHandler) return;
    process.off('SIGTERM', this.signalHandler);
    process.off('SIGINT', this.signalHandler);
    this.signalHandler = undefined;
  }
}
