import { formatServeLoad, percentile, ServeLoadRow } from '../../tools/bench/serve-load';

describe('serve load figure', () => {
  it('takes nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 0.5)).toBe(50);
    expect(percentile(v, 0.95)).toBe(95);
    expect(percentile([7], 0.95)).toBe(7);
    expect(percentile([], 0.5)).toBe(0);
    expect(percentile([1, 2, 3], 1)).toBe(3);
  });

  it('puts batching on and off side by side, one line per concurrency', () => {
    const row = (batching: boolean, concurrency: number, rps: number, errors = 0): ServeLoadRow => ({ batching, concurrency, requests: 10, errors, rps, p50Ms: 12.5, p95Ms: 30, meanBatch: batching ? 4 : 1 });
    const text = formatServeLoad([row(true, 1, 50), row(true, 8, 200), row(false, 1, 48), row(false, 8, 90, 2)]);
    const lines = text.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/batching on .*\| batching off/);
    expect(lines[3]).toMatch(/^\s+1 \|\s+50\.0\s+12\.5\s+30\.0\s+4\.00 \|\s+48\.0\s+12\.5\s+30\.0\s+1\.00$/);
    expect(lines[4]).toMatch(/^\s+8 \|\s+200\.0 .*\|\s+90\.0 .*errors 0\/2$/);
  });
});
