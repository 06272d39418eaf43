import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { InputContract } from '../../src/detectors/detector';
import { parseReason } from '../../src/errors';
import { prepareImage } from '../../src/imaging/prepare-image';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs } from '../../src/producer/key-sources';
import { jobIdFor } from '../../src/queue/job-data';
import { MAX_STALLS } from '../../src/worker/fleet-worker';
import { StorageBreaker } from '../../src/worker/storage-breaker';
import { allFixtures } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

const contract: InputContract = { name: 'input', width: 256, height: 256, layout: 'NHWC', colorOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1], padValue: [0, 0, 0] };
const photo = allFixtures().find((f) => !f.expectError && f.faces.length > 0)!;

/**
 * Poison detection: an image whose decode runs past its time limit, and a job whose holders kept
 * dying, end as `E_POISON` failures with a reason (counted on the run, so the run finishes) instead
 * of being retried forever; the storage breaker keeps an outage from burning every job's attempts.
 */
describe('poison and outages', () => {
  it('a decode past its time limit is quarantined as E_POISON; an ordinary photo decodes', async () => {
    const big = await sharp({ create: { width: 9000, height: 9000, channels: 3, background: { r: 120, g: 30, b: 200 } } }).png({ compressionLevel: 1 }).toBuffer();
    await expect(prepareImage(big, contract, { maxPixels: 100e6, decodeTimeoutMs: 20 })).rejects.toMatchObject({ code: 'E_POISON', message: expect.stringMatching(/did not finish within 20 ms/) });
    const ok = await prepareImage(fs.readFileSync(photo.path), contract, { maxPixels: 100e6, decodeTimeoutMs: 20_000 });
    expect(ok.pixels.length).toBe(256 * 256 * 3);
  });

  describe('a job whose holders died', () => {
    let redis: PrivateRedis;
    let fleet: TestFleet;
    let tmp: string;
    beforeAll(async () => {
      redis = await startRedis();
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-poison-'));
      fleet = openFleet(redis.url, uniqueQueue('poison'));
    });
    afterAll(async () => {
      await fleet?.close();
      await redis?.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    it(`is quarantined with a reason after ${MAX_STALLS} stalls, and its run finishes`, async () => {
      const source = `file://${photo.path}`;
      const other = allFixtures().find((f) => !f.expectError && f.path !== photo.path)!;
      await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs([source, `file://${other.path}`], 'file:///'), { runId: 'poison-1', results: `file://${tmp}/out`, model: 'retinaface' });
      // The stalled-job check counts each death of a holder in the job's `stc` field; three of them
      // are what three crashed workers leave behind.
      await fleet.redis.hset(fleet.queue.toKey(jobIdFor(source, 'retinaface', 'poison-1')), 'stc', String(MAX_STALLS));
      await fleet.startWorker({ batch: 2 });
      const run = await fleet.waitForRun('poison-1', 60_000);
      expect(run).toMatchObject({ total: 2, done: 1, failed: 1, failures: { E_POISON: 1 } });
      const [failed] = await fleet.queue.getFailed();
      expect(parseReason(failed.failedReason)).toMatchObject({ code: 'E_POISON', message: expect.stringMatching(/stopped 3 times/) });
      expect(failed.attemptsMade).toBe(1);
    });
  });

  describe('StorageBreaker', () => {
    it('stays closed below its threshold and closes on the first success', () => {
      const b = new StorageBreaker({ threshold: 3, now: () => 0 });
      expect([b.failure(), b.failure()]).toEqual([0, 0]);
      expect(b.open).toBe(false);
      b.success();
      expect([b.failure(), b.failure()]).toEqual([0, 0]);
    });

    it('opens at the threshold; jobs failing during a cool-down wait for its end; cool-downs double up to the cap', () => {
      let now = 0;
      const b = new StorageBreaker({ threshold: 2, baseCooldownMs: 1000, maxCooldownMs: 3000, now: () => now });
      expect(b.failure()).toBe(0);
      expect(b.failure()).toBe(1000);
      expect(b.open).toBe(true);
      now = 400;
      expect(b.failure()).toBe(600);
      now = 1000;
      expect(b.failure()).toBe(2000);
      now = 3000;
      expect(b.failure()).toBe(3000);
      now = 6000;
      expect(b.failure()).toBe(3000);
      b.success();
      expect(b.open).toBe(false);
      expect(b.failure()).toBe(0);
    });
  });
});
