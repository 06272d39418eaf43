import { MicroBatcher } from '../../src/inference/micro-batcher';

function recorder<T>(fail?: (x: T) => boolean) {
  const batches: T[][] = [];
  const runner = async (items: T[]) => {
    batches.push(items.slice());
    await new Promise((r) => setTimeout(r, 5));
    return items.map((x) => (fail && fail(x) ? new Error(`bad ${String(x)}`) : x));
  };
  return { batches, runner };
}

describe('MicroBatcher', () => {
  it('flushes on size without waiting for the timer', async () => {
    const { batches, runner } = recorder<number>();
    const b = new MicroBatcher(runner, { maxBatch: 4, maxWaitMs: 60_000 });
    const out = await Promise.all([1, 2, 3, 4].map((x) => b.submit(x)));
    expect(out).toEqual([1, 2, 3, 4]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
    await b.close();
  });

  it('flushes a partial batch on time', async () => {
    const { batches, runner } = recorder<number>();
    const b = new MicroBatcher(runner, { maxBatch: 8, maxWaitMs: 20 });
    const started = Date.now();
    const out = await Promise.all([b.submit(1), b.submit(2)]);
    expect(out).toEqual([1, 2]);
    expect(batches).toEqual([[1, 2]]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    await b.close();
  });

  it('never runs more than maxBatch items at once', async () => {
    const { batches, runner } = recorder<number>();
    const b = new MicroBatcher(runner, { maxBatch: 3, maxWaitMs: 5, maxInFlight: 2 });
    const items = Array.from({ length: 20 }, (_, i) => i);
    const out = await Promise.all(items.map((x) => b.submit(x)));
    expect(out).toEqual(items);
    expect(Math.max(...batches.map((x) => x.length))).toBeLessThanOrEqual(3);
    expect(batches.flat().sort((a, c) => a - c)).toEqual(items);
    await b.close();
  });

  it('fails only the failing item of a batch', async () => {
    const { runner } = recorder<number>((x) => x === 2);
    const b = new MicroBatcher(runner, { maxBatch: 4, maxWaitMs: 5 });
    const settled = await Promise.allSettled([1, 2, 3, 4].map((x) => b.submit(x)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe('bad 2');
    await b.close();
  });

  it('rejects every item when the runner throws, and keeps working afterwards', async () => {
    let calls = 0;
    const b = new MicroBatcher<number, number>(async (items) => {
      calls++;
      if (calls === 1) throw new Error('session died');
      return items;
    }, { maxBatch: 2, maxWaitMs: 5 });
    const first = await Promise.allSettled([b.submit(1), b.submit(2)]);
    expect(first.every((s) => s.status === 'rejected')).toBe(true);
    await expect(b.submit(3)).resolves.toBe(3);
    await b.close();
  });

  it('close() runs what waits and then refuses new items', async () => {
    const { batches, runner } = recorder<number>();
    const b = new MicroBatcher(runner, { maxBatch: 8, maxWaitMs: 60_000 });
    const p = b.submit(7);
    await b.close();
    await expect(p).resolves.toBe(7);
    expect(batches).toEqual([[7]]);
    await expect(b.submit(8)).rejects.toThrow(/closed/);
  });

  it('holds items while the only slot is busy, then flushes overdue ones at once', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new MicroBatcher<number, number>(async (items) => {
      sizes.push(items.length);
      if (sizes.length === 1) await gate;
      return items;
    }, { maxBatch: 4, maxWaitMs: 5, maxInFlight: 1 });
    const first = b.submit(0);
    await new Promise((r) => setTimeout(r, 20));
    const later = [1, 2, 3].map((x) => b.submit(x));
    await new Promise((r) => setTimeout(r, 30));
    release();
    await Promise.all([first, ...later]);
    expect(sizes).toEqual([1, 3]);
    await b.close();
  });
});
