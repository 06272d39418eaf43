import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { StoreRegistry } from '../../src/storage/store-registry';
import { allFixtures } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { S3Server, startS3Server } from '../../tools/harness/s3-server';

/** Nightly re-runs: unchanged photos are skipped without inference, changed ones are reprocessed. */
describe('incremental runs', () => {
  let redis: PrivateRedis;
  let s3: S3Server;
  let tmp: string;
  let stores: StoreRegistry;
  const envBefore = { ...process.env };
  const photos = allFixtures().filter((f) => !f.expectError && ['astronaut.png', 'coffee-noface.png', 'astronaut-small.jpg'].includes(f.file));

  beforeAll(async () => {
    redis = await startRedis();
    s3 = await startS3Server();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-incr-'));
    Object.assign(process.env, { FACEFLEET_S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region });
    await s3.createBucket('nightly');
    stores = new StoreRegistry({ s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
  });
  afterAll(async () => {
    process.env = envBefore;
    await stores?.closeAll();
    await s3?.stop();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const backends = [
    { name: 'file://', prefix: () => `file://${tmp}/photos/`, results: () => `file://${tmp}/results` },
    { name: 's3://', prefix: () => 's3://nightly/photos/', results: () => 's3://nightly/results' },
  ];

  for (const backend of backends) {
    it(`skips unchanged images without inference and reprocesses a changed one (${backend.name})`, async () => {
      const put = async (name: string, body: Buffer) => {
        const { store, key } = stores.resolve(`${backend.prefix()}${name}`);
        await store.put(key, body);
      };
      for (const p of photos) await put(p.file, fs.readFileSync(p.path));
      const fleet: TestFleet = openFleet(redis.url, uniqueQueue('incr'));
      try {
        const worker = await fleet.startWorker({ batch: 2 });
        const batches = async () => (await worker.metrics.batchSize.get()).values.find((v) => v.metricName === 'facefleet_batch_size_count')?.value ?? 0;
        const inferred = async () => (await worker.metrics.imagesProcessed.get()).values.find((v) => v.labels.outcome === 'success')?.value ?? 0;
        const run = async (runId: string) => {
          await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromPrefix(stores, backend.prefix()), { runId, results: backend.results(), model: 'retinaface', incremental: true });
          return fleet.waitForRun(runId);
        };

        const first = await run('night-1');
        expect(first).toMatchObject({ total: 3, done: 3, skipped: 0, failed: 0 });
        const batchesAfterFirst = await batches();
        expect(batchesAfterFirst).toBeGreaterThan(0);

        const second = await run('night-2');
        expect(second).toMatchObject({ total: 3, done: 0, skipped: 3, failed: 0 });
        expect(await batches()).toBe(batchesAfterFirst);

        // Replace one photo with another image: new ETag, so it must be processed again.
        const grid = allFixtures().find((f) => f.file === 'astronaut-grid4.jpg')!;
        await put('coffee-noface.png', fs.readFileSync(grid.path));
        const third = await run('night-3');
        expect(third).toMatchObject({ total: 3, done: 1, skipped: 2, failed: 0 });
        // One image ran again; as a 1024² photo it runs as its whole view and tiles, in one or more batches.
        expect(await batches()).toBeGreaterThan(batchesAfterFirst);
        expect(await inferred()).toBe(4);
        const { store, key } = stores.resolve(`${backend.results()}/coffee-noface.png.json`);
        const result = JSON.parse((await store.get(key)).body.toString('utf8'));
        expect(result.faces.length).toBeGreaterThanOrEqual(3);
        expect(result.runId).toBe('night-3');
      } finally {
        await fleet.close();
      }
    });
  }
});
