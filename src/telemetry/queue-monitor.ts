import type { Queue } from 'bullmq';
import { FleetMetrics, QUEUE_STATES, queueLabels } from './metrics';

/** What the last refresh saw. */
export interface QueueSnapshot {
  /** Jobs not yet started: waiting (a paused queue's jobs included) plus prioritized. */
  backlog: number;
  /** The queue is paused. */
  paused: boolean;
  /** When the counts were read, ms since the epoch. */
  at: number;
}

/** Settings of a {@link QueueMonitor}. */
export interface QueueMonitorOptions {
  /** How often the counts are read, ms. @defaultValue 5000 */
  intervalMs?: number;
  /** Window over which fleet throughput is measured for the drain estimate, ms. @defaultValue 60000 */
  rateWindowMs?: number;
  /** Clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
  /** The `queue` label. @defaultValue the BullMQ queue's name */
  queueLabel?: string;
  /** The `shard` label, for a shard of a split queue. @defaultValue none */
  shard?: string;
}

/**
 * Refreshes the queue-depth gauges on an interval from BullMQ counts: jobs by state, the age of the
 * oldest waiting job, and the drain estimate: backlog ÷ fleet throughput over the last
 * `rateWindowMs`. Throughput comes from BullMQ's own finished-job counters (`getMetrics`, kept by
 * workers created with the `metrics` option), which keep counting when completed jobs are removed;
 * the sizes of the completed and failed sets stop growing at their retention limit.
 */
export class QueueMonitor {
  private timer: NodeJS.Timeout | undefined;
  private samples: Array<{ at: number; finished: number }> = [];
  private last: QueueSnapshot | undefined;
  private readonly intervalMs: number;
  private readonly rateWindowMs: number;
  private readonly now: () => number;
  private readonly labels: { queue: string; shard?: string };

  constructor(
    private readonly queue: Queue,
    private readonly metrics: FleetMetrics,
    options: QueueMonitorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.rateWindowMs = options.rateWindowMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.labels = queueLabels(options.queueLabel ?? queue.name, options.shard);
  }

  /** Starts refreshing (first refresh at once). */
  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  /** What the last successful refresh saw; undefined before the first one. */
  get snapshot(): QueueSnapshot | undefined {
    return this.last;
  }

  /** Reads the counts once and updates the gauges; errors leave the last values in place. */
  async refresh(): Promise<void> {
    const at = this.labels;
    try {
      // A paused queue keeps its jobs in the wait list (BullMQ 6): `paused` reports them again.
      const [counts, paused, oldest, completed, failed] = await Promise.all([
        this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'),
        this.queue.isPaused(),
        this.queue.getWaiting(0, 0),
        this.queue.getMetrics('completed', 0, 0),
        this.queue.getMetrics('failed', 0, 0),
      ]);
      const now = this.now();
      for (const state of QUEUE_STATES) {
        const value = state === 'paused' ? (paused ? counts.waiting ?? 0 : 0) : counts[state] ?? 0;
        this.metrics.queueJobs.set({ ...at, state }, value);
      }
      const ts = oldest[0]?.timestamp;
      this.metrics.oldestWaitingAge.set(at, ts ? Math.max(0, (now - ts) / 1000) : 0);
      const backlog = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
      const rate = this.throughput(now, completed.meta.count + failed.meta.count);
      this.metrics.drainEstimate.set(at, backlog === 0 ? 0 : rate > 0 ? backlog / rate : -1);
      this.last = { backlog, paused, at: now };
    } catch {
      // Redis unreachable: readiness reports it; the gauges keep their last values.
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Jobs finished per second over the window, from a monotonic counter; 0 until two samples exist. */
  private throughput(now: number, finished: number): number {
    // A counter that went down was reset (queue obliterated): start over.
    if (this.samples.length && finished < this.samples[this.samples.length - 1].finished) this.samples = [];
    this.samples.push({ at: now, finished });
    while (this.samples.length > 2 && now - this.samples[1].at >= this.rateWindowMs) this.samples.shift();
    const first = this.samples[0];
    const seconds = (now - first.at) / 1000;
    return seconds > 0 ? (finished - first.finished) / seconds : 0;
  }
}

/**
 * What the monitors of several shards saw, as one queue: paused when every shard is, with the backlog
 * of the shards not paused (of all of them when every one is), read when the oldest was; undefined
 * until each has refreshed once.
 */
export function combinedSnapshot(monitors: readonly QueueMonitor[]): QueueSnapshot | undefined {
  const snapshots = monitors.map((m) => m.snapshot);
  if (snapshots.length === 0 || snapshots.some((s) => s === undefined)) return undefined;
  const all = snapshots as QueueSnapshot[];
  const paused = all.every((s) => s.paused);
  const backlog = all.reduce((n, s) => n + (paused || !s.paused ? s.backlog : 0), 0);
  return { backlog, paused, at: Math.min(...all.map((s) => s.at)) };
}
