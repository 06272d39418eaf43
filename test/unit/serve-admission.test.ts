import { Admission } from '../../src/serve/admission';
import { ApiError } from '../../src/serve/api-error';

describe('Admission', () => {
  it('admits up to maxInFlight at once, queues up to maxQueue, refuses the rest with E_OVERLOADED and a Retry-After', async () => {
    const rejected: string[] = [];
    const a = new Admission({ maxInFlight: 2, maxQueue: 1, queueTimeoutMs: 10_000, onReject: (r) => rejected.push(r) });
    const s1 = await a.acquire();
    const s2 = await a.acquire();
    expect(a.active).toBe(2);
    const waiting = a.acquire();
    expect(a.queued).toBe(1);
    const refused = await a.acquire().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).code).toBe('E_OVERLOADED');
    expect((refused as ApiError).status).toBe(429);
    expect((refused as ApiError).retryAfterS).toBeGreaterThanOrEqual(1);
    expect(rejected).toEqual(['queue_full']);
    s1.release();
    const s3 = await waiting;
    expect(a.active).toBe(2);
    expect(a.queued).toBe(0);
    s2.release();
    s3.release();
    expect(a.active).toBe(0);
  });

  it('serves waiters first come, first served', async () => {
    const a = new Admission({ maxInFlight: 1, maxQueue: 5, queueTimeoutMs: 10_000 });
    const first = await a.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => a.acquire().then((s) => { order.push(n); s.release(); }));
    first.release();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    expect(a.active).toBe(0);
  });

  it('refuses a waiter whose wait outlasts queueTimeoutMs, and forgets it', async () => {
    const rejected: string[] = [];
    const a = new Admission({ maxInFlight: 1, maxQueue: 5, queueTimeoutMs: 30, onReject: (r) => rejected.push(r) });
    const held = await a.acquire();
    const err = await a.acquire().catch((e: unknown) => e);
    expect((err as ApiError).code).toBe('E_OVERLOADED');
    expect(a.queued).toBe(0);
    expect(rejected).toEqual(['timeout']);
    held.release();
    expect(a.active).toBe(0);
  });

  it('counts a double release once', async () => {
    const a = new Admission({ maxInFlight: 2, maxQueue: 0, queueTimeoutMs: 100 });
    const s = await a.acquire();
    await a.acquire();
    s.release();
    s.release();
    expect(a.active).toBe(1);
  });

  it('refuses new requests with E_NOT_READY (503) once closed', async () => {
    const a = new Admission({ maxInFlight: 2, maxQueue: 2, queueTimeoutMs: 100 });
    a.close();
    const err = (await a.acquire().catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe('E_NOT_READY');
    expect(err.status).toBe(503);
  });

  it('reports counts as they change', async () => {
    const seen: Array<[number, number]> = [];
    const a = new Admission({ maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 1000, onChange: (i, q) => seen.push([i, q]) });
    const s = await a.acquire();
    const w = a.acquire();
    s.release();
    (await w).release();
    expect(seen).toEqual([[1, 0], [1, 1], [1, 0], [0, 0]]);
  });
});
