import { StageSamples, quantile, quantiles, ratio } from '../../tools/bench/stats';

describe('benchmark statistics', () => {
  it('takes nearest-rank quantiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(sorted, 0.5)).toBe(50);
    expect(quantile(sorted, 0.95)).toBe(95);
    expect(quantile([7], 0.95)).toBe(7);
    expect(quantile([1, 2], 0.5)).toBe(1);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('sorts unsorted samples before taking p50 and p95', () => {
    expect(quantiles([5, 1, 4, 2, 3])).toEqual({ p50: 3, p95: 5, n: 5 });
    expect(quantiles([])).toBeNull();
  });

  it('keeps stages in the order they were first seen', () => {
    const s = new StageSamples();
    s.add('decode', 2);
    s.add('inference', 10);
    s.add('decode', 4);
    expect(Object.keys(s.summary())).toEqual(['decode', 'inference']);
    expect(s.summary().decode).toEqual({ p50: 2, p95: 4, n: 2 });
  });

  it('gives no ratio when a side is missing or zero', () => {
    expect(ratio(190, 200)).toBe(0.95);
    expect(ratio(1, 3)).toBe(0.333);
    expect(ratio(null, 3)).toBeNull();
    expect(ratio(3, 0)).toBeNull();
    expect(ratio(Number.NaN, 3)).toBeNull();
  });
});
