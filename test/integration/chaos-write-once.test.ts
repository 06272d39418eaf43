import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadModel, LoadedModel } from '../../src/engine/build-engine';
import { JOB_SCHEMA_VERSION } from '../../src/queue/job-data';
import type { DetectionResult } from '../../src/queue/result';
import { FileStore } from '../../src/storage/file-store';
import type { ObjectStore } from '../../src/storage/object-store';
import { s3ClientConfigFromEnv } from '../../src/storage/s3-client-config';
import { S3Store } from '../../src/storage/s3-store';
import { StoreRegistry } from '../../src/storage/store-registry';
import { JobProcessor } from '../../src/worker/job-processor';
import { allFixtures } from '../support/fixtures';
import { S3Server, startS3Server } from '../../tools/harness/s3-server';

/**
 * Results are written once per key: `putIfAbsent` lets exactly one of many concurrent writers win
 * (hard link on files, `If-None-Match: *` on S3), and a job that runs again after a crash keeps the
 * result its earlier execution wrote instead of writing a second one.
 */
describe('write-once results', () => {
  let s3: S3Server;
  let tmp: string;
  let s3Store: S3Store;

  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.createBucket('once');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-once-'));
    s3Store = new S3Store('once', { ...s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: s3.endpoint }), credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  });
  afterAll(async () => {
    await s3Store?.close();
    await s3?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const stores: Array<[string, () => ObjectStore]> = [
    ['FileStore', () => new FileStore(path.join(tmp, 'files'))],
    ['S3Store', () => s3Store],
  ];

  for (const [name, open] of stores) {
    it(`${name}: of 16 concurrent writers exactly one wins and its bytes stay`, async () => {
      const store = open();
      const key = `race/${randomBytes(4).toString('hex')}.json`;
      const outcomes = await Promise.all(Array.from({ length: 16 }, (_, i) => store.putIfAbsent(key, `writer ${i}`)));
      const winners = outcomes.flatMap((won, i) => (won ? [i] : []));
      expect(winners).toHaveLength(1);
      expect((await store.get(key)).body.toString()).toBe(`writer ${winners[0]}`);
      expect(await store.putIfAbsent(key, 'late')).toBe(false);
      expect((await store.get(key)).body.toString()).toBe(`writer ${winners[0]}`);
      // A plain put still replaces.
      await store.put(key, 'replaced');
      expect((await store.get(key)).body.toString()).toBe('replaced');
    });
  }

  it('FileStore: a losing writer leaves no temporary file behind', async () => {
    const store = new FileStore(path.join(tmp, 'clean'));
    await store.putIfAbsent('a/b.json', 'first');
    expect(await store.putIfAbsent('a/b.json', 'second')).toBe(false);
    expect(fs.readdirSync(path.join(tmp, 'clean', 'a'))).toEqual(['b.json']);
  });

  describe('JobProcessor', () => {
    let model: LoadedModel;
    let registry: StoreRegistry;
    let processor: JobProcessor;
    const photo = allFixtures().find((f) => !f.expectError && f.faces.length > 0)!;

    beforeAll(async () => {
      model = await loadModel({ model: 'blazeface', canvas: 640, batch: 2, maxWaitMs: 5, threads: 1, providers: ['cpu'], allowCpuFallback: false });
      registry = new StoreRegistry();
      processor = new JobProcessor({ engine: model.engine, stores: registry, limits: { maxBytes: 50 << 20, maxPixels: 100e6 }, workerId: 'w1', forceIncremental: false });
    });
    afterAll(async () => {
      await model?.close();
      await registry?.closeAll();
    });

    const job = (runId: string, results: string) => ({ v: JOB_SCHEMA_VERSION, source: `file://${photo.path}`, results, runId, model: 'blazeface', key: 'photo.jpg' });
    const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as DetectionResult;

    it('keeps the first result when the same job runs again, and says so in its log', async () => {
      const results = `file://${tmp}/proc`;
      const file = path.join(tmp, 'proc', 'photo.jpg.json');
      const lines: Array<{ msg: string; key?: string }> = [];
      const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
      const first = await processor.process(job('run-a', results), log);
      const written = read(file);
      const again = await processor.process(job('run-a', results), log);
      expect(again).toEqual(first);
      expect(read(file)).toEqual(written);
      expect(lines.filter((l) => l.msg === 'result already written by an earlier execution: kept')).toEqual([expect.objectContaining({ key: 'photo.jpg' })]);
    });

    it('replaces a result of another run', async () => {
      const results = `file://${tmp}/proc2`;
      const file = path.join(tmp, 'proc2', 'photo.jpg.json');
      await processor.process(job('run-a', results));
      await processor.process(job('run-b', results));
      expect(read(file).runId).toBe('run-b');
    });

    it('leaves a stored file that is not a result alone and fails permanently (writes are all-or-nothing, so it is not ours)', async () => {
      const dir = path.join(tmp, 'proc3');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'photo.jpg.json'), '{"half": ');
      await expect(processor.process(job('run-a', `file://${dir}`))).rejects.toMatchObject({ code: 'E_BAD_KEY' });
      expect(fs.readFileSync(path.join(dir, 'photo.jpg.json'), 'utf8')).toBe('{"half": ');
    });
  });
});
