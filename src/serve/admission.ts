import { ApiError } from './api-error';

/** Settings of an {@link Admission}. */
export interface AdmissionOptions {
  /** Requests holding a slot at once. */
  maxInFlight: number;
  /** Requests allowed to wait for a slot; a request beyond that is refused at once. */
  maxQueue: number;
  /** How long a request may wait for a slot before it is refused, ms. */
  queueTimeoutMs: number;
  /** Called when the counts change (metrics). */
  onChange?: (inFlight: number, queued: number) => void;
  /** Called on every refusal, with why. */
  onReject?: (reason: 'queue_full' | 'timeout' | 'closed') => void;
}

/** A held slot. `release()` is idempotent. */
export interface Slot {
  release(): void;
}

interface Waiter {
  grant: (slot: Slot) => void;
  timer: NodeJS.Timeout;
}

/**
 * Admission control in front of the batcher: at most `maxInFlight` requests hold a slot, at most
 * `maxQueue` wait for one (first come, first served), everything else is refused with `E_OVERLOADED`
 * (429) and a `Retry-After` estimated from recent service times. Memory stays bounded whatever the
 * arrival rate, because a refused or waiting request has not had its body read.
 */
export class Admission {
  private inFlight = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;
  /** Exponentially weighted mean time a slot is held, ms. */
  private meanHoldMs = 200;

  constructor(private readonly options: AdmissionOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError('maxInFlight must be an integer ≥ 1');
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) throw new RangeError('maxQueue must be an integer ≥ 0');
  }

  /** Slots held now. */
  get active(): number {
    return this.inFlight;
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.waiters.length;
  }

  /**
   * Resolves with a slot, at once or after waiting in line; rejects with an `E_OVERLOADED` ApiError when
   * the line is full or the wait times out, and `E_NOT_READY` once closed.
   */
  acquire(): Promise<Slot> {
    if (this.closed) {
      this.options.onReject?.('closed');
      return Promise.reject(new ApiError('E_NOT_READY', 'the server is shutting down', { retryAfterS: 1 }));
    }
    if (this.inFlight < this.options.maxInFlight && this.waiters.length === 0) return Promise.resolve(this.take());
    if (this.waiters.length >= this.options.maxQueue) {
      this.options.onReject?.('queue_full');
      return Promise.reject(this.overloaded(`${this.inFlight} requests in flight and ${this.waiters.length} waiting (the limits)`));
    }
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          this.changed();
          this.options.onReject?.('timeout');
          reject(this.overloaded(`no detection slot freed within ${this.options.queueTimeoutMs} ms`));
        }, this.options.queueTimeoutMs),
      };
      this.waiters.push(waiter);
      this.changed();
    });
  }

  /** Refuses new requests from now on; requests already waiting keep their place. */
  close(): void {
    this.closed = true;
  }

  /** Seconds a refused caller should wait: the line ahead of it divided among the slots. */
  retryAfterSeconds(): number {
    const ahead = this.inFlight + this.waiters.length;
    return Math.max(1, Math.ceil((ahead * this.meanHoldMs) / this.options.maxInFlight / 1000));
  }

  private overloaded(detail: string): ApiError {
    return new ApiError('E_OVERLOADED', `too many detection requests: ${detail}; retry later`, { retryAfterS: this.retryAfterSeconds() });
  }

  private take(): Slot {
    this.inFlight++;
    this.changed();
    const t0 = performance.now();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.meanHoldMs = 0.9 * this.meanHoldMs + 0.1 * (performance.now() - t0);
        this.inFlight--;
        const next = this.waiters.shift();
        if (next) {
          clearTimeout(next.timer);
          next.grant(this.take());
        } else {
          this.changed();
        }
      },
    };
  }

  private changed(): void {
    this.options.onChange?.(this.inFlight, this.waiters.length);
  }
}
