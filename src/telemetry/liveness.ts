import type { HealthVerdict } from './metrics-server';
import type { QueueSnapshot } from './queue-monitor';

/** Settings of a {@link LivenessProbe}. */
export interface LivenessOptions {
  /** The event loop counts as stalled when its ticker has not run for this long, ms. @defaultValue 10000 */
  loopStallMs?: number;
  /**
   * The worker counts as stuck when jobs have been waiting (queue not paused) and it has finished no
   * job for this long, ms. Must exceed the slowest job's duration. @defaultValue 300000
   */
  progressStallMs?: number;
  /** The latest queue counts (from the {@link QueueMonitor}). */
  queue: () => QueueSnapshot | undefined;
  /**
   * Jobs this worker holds now. A worker holding jobs counts as stuck when it finishes none for
   * `progressStallMs`, even when nothing else waits (it may hold the whole queue, locks renewed by a
   * healthy main thread while the work itself hangs). @defaultValue none: only the queue counts
   */
  held?: () => number;
  /**
   * True while the worker is held back on purpose, e.g. waiting out a storage outage: a restart would
   * not help, so that time is not counted as a stall. @defaultValue never
   */
  excused?: () => boolean;
  /** Clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
}

/**
 * Liveness of a worker, for `/healthz`: the process is making progress, not merely up. Fails when the
 * event loop has stopped turning, or when jobs have been waiting (or held by this worker) for
 * `progressStallMs` while this worker finished none in that time (a hung inference thread, a lost
 * Redis subscription). A paused queue or an empty one is not a stall: restarting would not help.
 */
export class LivenessProbe {
  private lastTick: number;
  private lastFinished: number;
  private backlogSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly loopStallMs: number;
  private readonly progressStallMs: number;
  private readonly now: () => number;

  constructor(private readonly options: LivenessOptions) {
    this.now = options.now ?? Date.now;
    this.loopStallMs = options.loopStallMs ?? 10_000;
    this.progressStallMs = options.progressStallMs ?? 300_000;
    this.lastTick = this.now();
    this.lastFinished = this.now();
  }

  /** Starts the event-loop ticker (once a second, unref'd). */
  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Records that the event loop turned. */
  tick(): void {
    this.lastTick = this.now();
  }

  /** Records that this worker finished a job (completed or failed). */
  jobFinished(): void {
    this.lastFinished = this.now();
  }

  /** The verdict now. */
  check(): HealthVerdict {
    const now = this.now();
    const sinceTick = now - this.lastTick;
    if (sinceTick >= this.loopStallMs) return { ok: false, reason: `event loop stalled for ${Math.round(sinceTick / 1000)} s` };
    const q = this.options.queue();
    const waiting = q !== undefined && !q.paused && q.backlog > 0;
    const held = this.options.held?.() ?? 0;
    if ((!waiting && held === 0) || this.options.excused?.()) {
      this.backlogSince = undefined;
      return { ok: true };
    }
    this.backlogSince ??= waiting ? q.at : now;
    const idleSince = Math.max(this.lastFinished, this.backlogSince);
    if (now - idleSince >= this.progressStallMs) {
      const what = waiting ? 'jobs waiting' : `${held} jobs held`;
      return { ok: false, reason: `${what} but none finished by this worker for ${Math.round((now - idleSince) / 1000)} s` };
    }
    return { ok: true };
  }
}
