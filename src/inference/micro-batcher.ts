/** Settings of a {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Flush as soon as this many items wait. @defaultValue 8 */
  maxBatch: number;
  /** Flush a partial batch this many ms after its first item arrived. @defaultValue 10 */
  maxWaitMs: number;
  /** Batches allowed to run at once (2 lets the next batch form while one computes). @defaultValue 1 */
  maxInFlight?: number;
}

/** Runs one batch; returns one result or Error per item, in order. */
export type BatchRunner<I, O> = (items: I[]) => Promise<Array<O | Error>>;

interface Pending<I, O> {
  item: I;
  at: number;
  resolve: (value: O) => void;
  reject: (reason: Error) => void;
}

/**
 * Groups items submitted one at a time into batches of at most `maxBatch`, flushed when full or
 * `maxWaitMs` after the first item, with at most `maxInFlight` batches running. An item's Error fails
 * only that item; a thrown runner error fails every item of its batch.
 */
export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly maxInFlight: number;

  constructor(
    private readonly runner: BatchRunner<I, O>,
    private readonly options: MicroBatcherOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError('maxBatch must be an integer ≥ 1');
    if (!(options.maxWaitMs >= 0)) throw new RangeError('maxWaitMs must be ≥ 0');
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  /** Items waiting for a batch. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues one item; resolves with its own result. */
  submit(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new Error('micro-batcher is closed'));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, at: Date.now(), resolve, reject });
      if (this.queue.length >= this.options.maxBatch) this.pump();
      else if (!this.timer) this.timer = setTimeout(() => this.onTimer(), this.options.maxWaitMs);
    });
  }

  /** Flushes what waits now and resolves when every batch has finished; later submits are refused. */
  async close(): Promise<void> {
    this.closed = true;
    this.pump(true);
    await this.idle();
  }

  /** Resolves when nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.pump(true);
  }

  /**
   * Starts batches while a slot is free: full batches always, a partial one when `partial` (its wait
   * is over, or the batcher is closing). Leaves a timer armed for whatever still waits.
   */
  private pump(partial = false): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      if (!partial && this.queue.length < this.options.maxBatch) break;
      void this.runBatch(this.queue.splice(0, this.options.maxBatch));
    }
    if (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const due = this.queue[0].at + this.options.maxWaitMs - Date.now();
      this.timer = setTimeout(() => this.onTimer(), Math.max(0, due));
    }
  }

  private async runBatch(batch: Pending<I, O>[]): Promise<void> {
    this.inFlight++;
    try {
      const results = await this.runner(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const r = results[i];
        if (r instanceof Error) p.reject(r);
        else if (r === undefined) p.reject(new Error('batch runner returned no result for this item'));
        else p.resolve(r);
      });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.reject(error);
    } finally {
      this.inFlight--;
      // Items that queued while every slot was busy go now if full, overdue or closing.
      const overdue = this.queue.length > 0 && Date.now() - this.queue[0].at >= this.options.maxWaitMs;
      this.pump(this.closed || overdue);
      if (this.queue.length === 0 && this.inFlight === 0) this.idleWaiters.splice(0).forEach((w) => w());
    }
  }
}
