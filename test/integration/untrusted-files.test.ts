import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs } from '../../src/producer/key-sources';
import { DEFAULT_JOB_POLICY } from '../../src/queue/job-options';
import { StoreRegistry } from '../../src/storage/store-registry';
import { allFixtures } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { S3Server, startS3Server } from '../../tools/harness/s3-server';

/**
 * What a job finds where it reads is not trusted: a FIFO as its source fails that job alone, at once,
 * while the worker keeps processing; whatever sits where its result goes (not JSON, not a result,
 * larger than any result) fails the incremental check with a permanent E_BAD_KEY that quotes none of
 * its bytes, and is left untouched. Real Redis, a real S3-compatible server, the real model.
 */
describe('untrusted files', () => {
  let redis: PrivateRedis;
  let s3: S3Server;
  let tmp: string;
  let stores: StoreRegistry;
  const envBefore = { ...process.env };
  const photo = allFixtures().find((f) => f.file === 'astronaut.png')!;
  const fifos: string[] = [];
  /** One attempt, so a failure classified transient would show as itself rather than after retries. */
  const policy = { ...DEFAULT_JOB_POLICY, attempts: 1, backoffMs: 100 };

  beforeAll(async () => {
    redis = await startRedis();
    s3 = await startS3Server();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-untrusted-'));
    Object.assign(process.env, { FACEFLEET_S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region });
    await s3.createBucket('untrusted');
    stores = new StoreRegistry({ s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
  });
  afterAll(async () => {
    // A reader still blocked on a FIFO (the failure this file guards against) is released first.
    for (const fifo of fifos) {
      try {
        fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        // No reader: nothing to release.
      }
    }
    process.env = envBefore;
    await stores?.closeAll();
    await s3?.stop();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function withFleet<T>(fn: (fleet: TestFleet) => Promise<T>): Promise<T> {
    const fleet = openFleet(redis.url, uniqueQueue('untrusted'));
    try {
      await fleet.startWorker({ batch: 2, model: 'blazeface' });
      return await fn(fleet);
    } finally {
      await fleet.close();
    }
  }

  async function failedReasons(fleet: TestFleet): Promise<Record<string, string>> {
    const failed = await fleet.queue.getFailed(0, -1);
    return Object.fromEntries(failed.map((j) => [String(j.data.key), j.failedReason]));
  }

  it('fails FIFO sources alone, at once, while a valid job beside them completes', async () => {
    const dir = path.join(tmp, 'fifo-photos');
    fs.mkdirSync(dir);
    fs.copyFileSync(photo.path, path.join(dir, 'real.png'));
    // More FIFOs than libuv has threads (4): blocking opens would leave none for the valid job.
    for (let i = 0; i < 6; i++) fifos.push(path.join(dir, `pipe-${i}.jpg`));
    expect(spawnSync('mkfifo', fifos).status).toBe(0);
    await withFleet(async (fleet) => {
      const keys = [...fifos.map((f) => `file://${f}`), `file://${dir}/real.png`];
      await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(keys, 'file:///'), { runId: 'fifo', results: `file://${tmp}/fifo-results`, model: 'blazeface', policy });
      const status = await fleet.waitForRun('fifo', 30_000);
      expect(status).toMatchObject({ total: 7, done: 1, failed: 6, failures: { E_NOT_FOUND: 6 } });
      const reasons = Object.values(await failedReasons(fleet));
      for (const reason of reasons) expect(reason).toMatch(/^E_NOT_FOUND: not a regular file \(FIFO\)/);
      expect(fs.existsSync(path.join(tmp, 'fifo-results', dir.slice(1), 'real.png.json'))).toBe(true);
    });
  });

  const backends = [
    { name: 'file://', runId: 'squat-file', photos: () => `file://${tmp}/photos`, results: () => `file://${tmp}/results` },
    { name: 's3://', runId: 'squat-s3', photos: () => 's3://untrusted/photos', results: () => 's3://untrusted/results' },
  ];

  for (const backend of backends) {
    it(`fails the incremental check permanently, quoting no byte, when the result's name holds something else (${backend.name})`, async () => {
      const secret = 'operator-secret-7c1e9a';
      const squatters: Record<string, Buffer> = {
        'not-json.png': Buffer.from(`${secret} this is not JSON at all`),
        'other-json.png': Buffer.from(JSON.stringify({ note: secret, replicas: 3 })),
        // Larger than any result: refused from its size, never read whole.
        'huge.png': Buffer.concat([Buffer.from(`{"pad":"${secret}`), Buffer.alloc(17 * 1024 * 1024, 0x61), Buffer.from('"}')]),
      };
      const names = [...Object.keys(squatters), 'fine.png'];
      const put = async (url: string, body: Buffer) => {
        const { store, key } = stores.resolve(url);
        await store.put(key, body);
      };
      for (const name of names) await put(`${backend.photos()}/${name}`, fs.readFileSync(photo.path));
      for (const [name, body] of Object.entries(squatters)) await put(`${backend.results()}/${name}.json`, body);
      await withFleet(async (fleet) => {
        await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(names, `${backend.photos()}/`), { runId: backend.runId, results: backend.results(), model: 'blazeface', incremental: true, policy });
        const status = await fleet.waitForRun(backend.runId, 60_000);
        expect(status).toMatchObject({ total: 4, done: 1, failed: 3, failures: { E_BAD_KEY: 3 } });
        const reasons = await failedReasons(fleet);
        expect(Object.keys(reasons).sort()).toEqual(Object.keys(squatters).sort());
        for (const [name, reason] of Object.entries(reasons)) {
          expect(reason).toMatch(new RegExp(`^E_BAD_KEY: the result location .*${name.replace('.', '\\.')}\\.json holds an object that is not a facefleet result`));
          expect(reason).not.toContain(secret);
          expect(reason).not.toContain('not JSON at all');
        }
        expect(reasons['huge.png']).toMatch(/larger than 16777216 bytes/);
      });
      for (const [name, body] of Object.entries(squatters)) {
        const { store, key } = stores.resolve(`${backend.results()}/${name}.json`);
        expect((await store.get(key)).body.equals(body)).toBe(true);
      }
    });

  }

  for (const backend of backends) {
    it(`writes a result over a facefleet result of the same key only, and fails permanently on anything else there (${backend.name})`, async () => {
      const secret = 'operator-config-4d2f81';
      const photos = `${backend.photos()}-w`;
      const results = `${backend.results()}-w`;
      const put = async (url: string, body: Buffer) => {
        const { store, key } = stores.resolve(url);
        await store.put(key, body);
      };
      const read = async (url: string) => {
        const { store, key } = stores.resolve(url);
        return (await store.get(key)).body;
      };
      const names = ['config.png', 'other-json.png', 'huge.png', 'other-key.png', 'fine.png', 'new.png'];
      for (const name of names) await put(`${photos}/${name}`, fs.readFileSync(photo.path));
      await withFleet(async (fleet) => {
        // An earlier run leaves a real result of fine.png elsewhere, to copy under two names.
        await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(['fine.png'], `${photos}/`), { runId: `${backend.runId}-w0`, results: `${results}-0`, model: 'blazeface', policy });
        expect(await fleet.waitForRun(`${backend.runId}-w0`, 60_000)).toMatchObject({ total: 1, done: 1 });
        const earlier = await read(`${results}-0/fine.png.json`);
        const squatters: Record<string, Buffer> = {
          'config.png': Buffer.from(`${secret}: not JSON, an operator's file`),
          'other-json.png': Buffer.from(JSON.stringify({ note: secret, replicas: 3 })),
          'huge.png': Buffer.concat([Buffer.from(`{"pad":"${secret}`), Buffer.alloc(17 * 1024 * 1024, 0x61), Buffer.from('"}')]),
          // A facefleet result, but of another key (fine.png): not this key's to replace.
          'other-key.png': earlier,
        };
        for (const [name, body] of Object.entries(squatters)) await put(`${results}/${name}.json`, body);
        // The same key's result from an earlier run: replaced.
        await put(`${results}/fine.png.json`, earlier);
        const runId = `${backend.runId}-w1`;
        await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(names, `${photos}/`), { runId, results, model: 'blazeface', policy });
        expect(await fleet.waitForRun(runId, 60_000)).toMatchObject({ total: 6, done: 2, failed: 4, failures: { E_BAD_KEY: 4 } });
        const reasons = await failedReasons(fleet);
        expect(Object.keys(reasons).sort()).toEqual(Object.keys(squatters).sort());
        for (const reason of Object.values(reasons)) {
          expect(reason).toMatch(/^E_BAD_KEY: the result location .* holds /);
          expect(reason).not.toContain(secret);
        }
        expect(reasons['other-key.png']).toMatch(/the facefleet result of another key \("fine\.png"\)/);
        for (const [name, body] of Object.entries(squatters)) expect({ name, same: (await read(`${results}/${name}.json`)).equals(body) }).toEqual({ name, same: true });
        expect((JSON.parse((await read(`${results}/fine.png.json`)).toString('utf8')) as { runId: string }).runId).toBe(runId);
        expect((JSON.parse((await read(`${results}/new.png.json`)).toString('utf8')) as { key: string }).key).toBe('new.png');
      });
    });
  }
});
