/** Settings of a {@link StorageBreaker}. */
export interface StorageBreakerOptions {
  /** Storage failures in a row, with no job getting through storage in between, that open the breaker. @defaultValue 5 */
  threshold?: number;
  /** First cool-down, ms; doubles each time one passes and storage still fails. @defaultValue 1000 */
  baseCooldownMs?: number;
  /** Longest cool-down, ms (also the longest a job waits after storage is back). @defaultValue 15000 */
  maxCooldownMs?: number;
  /** Clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
}

/**
 * A circuit breaker for an unreachable object store. Jobs retry transient storage errors with
 * backoff, but in an outage every job a worker takes fails within milliseconds, so a whole backlog
 * would burn all its attempts in the first half minute and end as failures. Once `threshold` storage
 * failures come in a row, the breaker opens: the caller puts failing jobs back for the cool-down
 * without using an attempt, and readiness reports storage unreachable. The first job that gets past
 * storage (or fails for any other reason, which means storage answered) closes it.
 */
export class StorageBreaker {
  private consecutive = 0;
  private cooldownMs = 0;
  private openUntil = 0;
  private readonly threshold: number;
  private readonly baseCooldownMs: number;
  private readonly maxCooldownMs: number;
  private readonly now: () => number;

  constructor(options: StorageBreakerOptions = {}) {
    this.threshold = options.threshold ?? 5;
    this.baseCooldownMs = options.baseCooldownMs ?? 1000;
    this.maxCooldownMs = options.maxCooldownMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  /** True while storage is considered unreachable (no job got through since the breaker opened). */
  get open(): boolean {
    return this.consecutive >= this.threshold;
  }

  /**
   * Records a storage failure. Returns how long (ms) the failing job should wait before it runs again
   * without using an attempt, or 0 while the breaker is closed (the normal retry applies). Jobs failing
   * during one cool-down all wait until its end; a cool-down that ends with storage still failing is
   * followed by one twice as long.
   */
  failure(): number {
    this.consecutive++;
    if (this.consecutive < this.threshold) return 0;
    const now = this.now();
    if (now >= this.openUntil) {
      this.cooldownMs = this.cooldownMs === 0 ? this.baseCooldownMs : Math.min(this.maxCooldownMs, this.cooldownMs * 2);
      this.openUntil = now + this.cooldownMs;
    }
    return this.openUntil - now;
  }

  /** Records that storage answered (a job got through, or failed for a reason other than storage). */
  success(): void {
    this.consecutive = 0;
    this.cooldownMs = 0;
    this.openUntil = 0;
  }
}
