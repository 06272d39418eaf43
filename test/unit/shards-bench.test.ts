import { loadBenchOptions } from '../../tools/bench/bench-options';
import { fleetLines } from '../../tools/bench/bench-report';
import type { FleetCost } from '../../tools/bench/fleet';

describe('bench --phases fleet', () => {
  it('is taken only when asked, with the shards of its queue', () => {
    expect(loadBenchOptions({}, {}).phases.has('fleet')).toBe(false);
    const o = loadBenchOptions({ phases: 'fleet', shards: '4', workers: '2' }, {});
    expect([...o.phases]).toEqual(['fleet']);
    expect(o).toMatchObject({ shards: 4, workers: 2 });
    expect(loadBenchOptions({}, {}).shards).toBe(1);
    expect(() => loadBenchOptions({ shards: '0' }, {})).toThrow(/--shards: expected a number from 1 to 1024; given "0"/);
  });

  it('reports redis-server CPU per image and what one core carries at 70 %', () => {
    const f: FleetCost = { workers: 2, shards: 4, images: 400, imagesPerSecond: 61.5, seconds: 6.5, failed: 0, redisUsPerImage: { enqueue: 48.2, processing: 140.1, total: 188.3 }, imagesPerSecondPerCore: 3718 };
    expect(fleetLines(f)).toEqual([
      'fleet: 2 worker process(es), 4 shard(s): 61.5 images/s (400 images in 6.50 s)',
      '  redis-server CPU µs/image: enqueue 48.2, processing 140, total 188; one Redis core at 70 % carries 3,718 images/s',
    ]);
  });
});
