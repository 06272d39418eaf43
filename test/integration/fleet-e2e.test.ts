import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { iou } from '../../src/detectors/nms';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { parseLocation } from '../../src/storage/location';
import { StoreRegistry } from '../../src/storage/store-registry';
import type { DetectionResult } from '../../src/queue/result';
import { allFixtures, fixturesRoot } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { S3Server, startS3Server } from '../../tools/harness/s3-server';

/**
 * The whole path through the queue, for file:// and s3:// storage: every fixture folder is enqueued,
 * every image ends with a result or a classified failure as its manifest says, and detections are
 * scored against the hand-drawn boxes.
 */
describe('fleet end to end', () => {
  let redis: PrivateRedis;
  let s3: S3Server;
  let tmp: string;
  const fixtures = allFixtures();
  const envBefore = { ...process.env };

  beforeAll(async () => {
    redis = await startRedis();
    s3 = await startS3Server();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-e2e-'));
    Object.assign(process.env, {
      FACEFLEET_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
    });
    await s3.createBucket('photos');
    await s3.createBucket('results');
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    for (const f of fixtures) {
      const key = `albums/${path.relative(fixturesRoot(), f.path)}`;
      await client.send(new PutObjectCommand({ Bucket: 'photos', Key: key, Body: fs.readFileSync(f.path) }));
    }
    client.destroy();
  });

  afterAll(async () => {
    process.env = envBefore;
    await s3?.stop();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const backends = [
    { name: 'file://', source: () => `file://${fixturesRoot()}/`, results: () => `file://${tmp}/results` },
    { name: 's3://', source: () => 's3://photos/albums/', results: () => 's3://results/run1' },
  ];

  for (const backend of backends) {
    describe(backend.name, () => {
      let fleet: TestFleet;
      let registry: StoreRegistry;

      beforeAll(async () => {
        fleet = openFleet(redis.url, uniqueQueue('e2e'));
        await fleet.startWorker({ batch: 4 });
        registry = new StoreRegistry({ s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
      });
      afterAll(async () => {
        await fleet?.close();
        await registry?.closeAll();
      });

      it('gives every fixture a result or the classified failure its manifest expects', async () => {
        const runId = `e2e-${backend.name.replace(/\W/g, '')}`;
        const report = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromPrefix(registry, backend.source()), {
          runId,
          results: backend.results(),
          model: 'retinaface',
        });
        // fromPrefix filters by image extension: README.md and manifest.json are not enqueued.
        expect(report.enqueued).toBe(fixtures.length);
        const status = await fleet.waitForRun(runId);
        const codes = await fleet.failedCodes();
        const expectedFailures = fixtures.filter((f) => f.expectError).length;
        expect(status.failed).toBe(expectedFailures);
        expect(status.done).toBe(fixtures.length - expectedFailures);

        let easy = 0;
        let easyFound = 0;
        let noFaceDetections = 0;
        for (const f of fixtures) {
          const key = path.relative(fixturesRoot(), f.path);
          const resultUrl = `${backend.results()}/${key}.json`;
          const { store, key: resultKey } = registry.resolve(resultUrl);
          const head = await store.head(resultKey);
          if (f.expectError) {
            expect(head).toBeNull();
            expect(codes[key]).toMatch(/^E_(DECODE|UNSUPPORTED_FORMAT)$/);
            if (f.expectCode) expect(codes[key]).toBe(f.expectCode);
            continue;
          }
          expect(head).not.toBeNull();
          const result = JSON.parse((await store.get(resultKey)).body.toString('utf8')) as DetectionResult;
          expect(result.key).toBe(key);
          expect(parseLocation(result.source.url).key.endsWith(key)).toBe(true);
          if (f.width) expect(result.image).toMatchObject({ width: f.width, height: f.height });
          if (f.faces.length === 0) noFaceDetections += result.faces.length;
          for (const face of f.faces.filter((x) => x.difficulty === 'easy')) {
            easy++;
            if (result.faces.some((d) => iou(d.box, face.box) >= 0.5)) easyFound++;
          }
        }
        expect(easy).toBeGreaterThan(0);
        expect(easyFound / easy).toBeGreaterThanOrEqual(0.8);
        // Measured with BlazeFace at its default threshold: 0 detections on the face-free photos.
        expect(noFaceDetections).toBeLessThanOrEqual(1);
      });
    });
  }
});
