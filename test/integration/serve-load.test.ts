import fs from 'node:fs';
import pino from 'pino';
import { loadServeConfig } from '../../src/config/serve-config';
import { formatServeLoad, measureServeLoad, serveLoadStarter } from '../../tools/bench/serve-load';
import { allFixtures } from '../support/fixtures';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

/** The load figure's machinery on real servers, briefly: rows for both modes, batching visible. Timings are not judged. */
describe('serve load figure (smoke)', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('measures batching on and off at each concurrency on fresh servers', async () => {
    const images = allFixtures()
      .filter((f) => ['astronaut.png', 'coffee-noface.png'].includes(f.file))
      .map((f) => ({ body: fs.readFileSync(f.path), type: 'image/png' }));
    const config = loadServeConfig({ redisUrl: redis.url, queue: uniqueQueue('load'), batch: 8, maxWaitMs: 10 }, {});
    const rows = await measureServeLoad({ start: serveLoadStarter(config, pino({ level: 'silent' }), 4), images, concurrencies: [1, 4], durationMs: 400, warmupMs: 100 });
    expect(rows.map((r) => [r.batching, r.concurrency])).toEqual([[true, 1], [true, 4], [false, 1], [false, 4]]);
    for (const r of rows) {
      expect(r.errors).toBe(0);
      expect(r.requests).toBeGreaterThan(0);
      expect(r.p95Ms).toBeGreaterThanOrEqual(r.p50Ms);
    }
    // With batching off every image runs alone; with it on, one caller at a time cannot share a batch.
    expect(rows.filter((r) => !r.batching).map((r) => r.meanBatch)).toEqual([1, 1]);
    expect(rows.find((r) => r.batching && r.concurrency === 1)!.meanBatch).toBe(1);
    expect(formatServeLoad(rows).split('\n')).toHaveLength(5);
  });
});
