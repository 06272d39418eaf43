import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs } from '../../src/producer/key-sources';
import { StoreRegistry } from '../../src/storage/store-registry';
import { codeOf } from '../support/error-code';
import { allFixtures } from '../support/fixtures';
import { openFleet } from '../support/fleet';
import { startRedis, uniqueQueue } from '../../tools/harness/redis';
import { S3Server, startS3Server } from '../../tools/harness/s3-server';

/** `--allowed-locations` confines a worker to the buckets (and prefixes) the operator named. */
describe('worker S3 locations', () => {
  it('matches exact bucket names and whole key segments, before any request', () => {
    const registry = new StoreRegistry({ s3: { region: 'us-east-1' }, s3Locations: ['s3://photos', 's3://shared/team-a/'] });
    expect(registry.resolve('s3://photos/albums/a.jpg').key).toBe('albums/a.jpg');
    expect(registry.resolve('s3://shared/team-a/x.jpg').key).toBe('team-a/x.jpg');
    for (const url of ['s3://photos-private/a.jpg', 's3://shared/team-ab/x.jpg', 's3://shared/x.jpg', 's3://other/a.jpg']) {
      expect(codeOf(() => registry.resolve(url))).toBe('E_BAD_KEY');
    }
    // Opening a refused bucket made no store (so no client, no request).
    expect(registry.size).toBe(2);
  });

  it('refuses a start-up value that is not an S3 or folder location', () => {
    expect(codeOf(() => new StoreRegistry({ s3Locations: ['photos'] }))).toBe('E_CONFIG');
    expect(codeOf(() => loadWorkerConfig({ allowedLocations: 'https://photos' }, {}))).toBe('E_CONFIG');
    expect(codeOf(() => loadWorkerConfig({ allowedLocations: 'file:///' }, {}))).toBe('E_CONFIG');
    expect(loadWorkerConfig({}, { FACEFLEET_ALLOWED_LOCATIONS: 's3://photos,s3://out/r' }).allowedLocations).toEqual(['s3://photos', 's3://out/r']);
  });

  describe('against an S3 server', () => {
    let s3: S3Server;
    let client: S3Client;
    const envBefore = { ...process.env };
    const photo = allFixtures().find((f) => f.file === 'astronaut.png')!;

    beforeAll(async () => {
      s3 = await startS3Server();
      Object.assign(process.env, {
        FACEFLEET_S3_ENDPOINT: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: s3.region,
      });
      client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
      for (const bucket of ['photos', 'photos-private', 'results']) await s3.createBucket(bucket);
      for (const bucket of ['photos', 'photos-private']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.png', Body: fs.readFileSync(photo.path) }));
    });
    afterAll(async () => {
      process.env = envBefore;
      client?.destroy();
      await s3?.stop();
    });

    const objects = async (bucket: string, prefix: string): Promise<string[]> =>
      ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);

    it('processes jobs inside the list and fails the rest with E_BAD_KEY, writing nothing for them', async () => {
      const redis = await startRedis();
      const fleet = openFleet(redis.url, uniqueQueue('s3-allow'));
      try {
        await fleet.startWorker({ allowedLocations: 's3://photos,s3://results/allowed' });
        await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(['s3://photos/a.png', 's3://photos-private/a.png'], 's3://photos/'), { runId: 'inside', results: 's3://results/allowed/r', model: 'retinaface' });
        expect(await fleet.waitForRun('inside')).toMatchObject({ done: 1, failed: 1, failures: { E_BAD_KEY: 1 } });
        // A results location outside the list (prefix look-alike) fails every job of its run.
        await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(['s3://photos/a.png'], 's3://photos/'), { runId: 'outside', results: 's3://results/allowed-evil/r', model: 'retinaface' });
        expect(await fleet.waitForRun('outside')).toMatchObject({ done: 0, failed: 1, failures: { E_BAD_KEY: 1 } });
        expect(await objects('results', '')).toEqual(['allowed/r/a.png.json']);
      } finally {
        await fleet.close();
        await redis.stop();
      }
    });
  });
});
