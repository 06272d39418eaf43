import type { Queue } from 'bullmq';
import { FleetMetrics, QUEUE_STATES } from './metrics';

/**
 * Refreshes the queue-depth gauges on an interval from BullMQ counts: jobs by state, the age of the
 * oldest waiting job, and the drain estimate (waiting ÷ fleet completions per second over the last
 * refresh interval, from the queue's completed counter as every worker sees it).
 */
export class QueueMonitor {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; finished: number } | undefined;
  private rate = 0;

  constructor(
    private readonly queue: Queue,
    private readonly metrics: FleetMetrics,
    private readonly intervalMs = 5000,
  ) {}

  /** Starts refreshing (first refresh at once). */
  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  /** Reads the counts once and updates the gauges; errors leave the last values in place. */
  async refresh(): Promise<void> {
    const name = this.queue.name;
    try {
      const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed', 'wait');
      const paused = await this.queue.isPaused();
      for (const state of QUEUE_STATES) {
        const value = state === 'paused' ? (paused ? counts.waiting ?? 0 : 0) : counts[state] ?? 0;
        this.metrics.queueJobs.labels(name, state).set(value);
      }
      const oldest = await this.queue.getWaiting(0, 0);
      const ts = oldest[0]?.timestamp;
      this.metrics.oldestWaitingAge.labels(name).set(ts ? Math.max(0, (Date.now() - ts) / 1000) : 0);
      const finished = (counts.completed ?? 0) + (counts.failed ?? 0);
      const now = Date.now();
      if (this.last && finished >= this.last.finished) this.rate = (finished - this.last.finished) / ((now - this.last.at) / 1000);
      this.last = { at: now, finished };
      const backlog = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
      this.metrics.drainEstimate.labels(name).set(backlog === 0 ? 0 : this.rate > 0 ? backlog / this.rate : -1);
    } catch {
      // Redis unreachable: readiness reports it; the gauges keep their last values.
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
