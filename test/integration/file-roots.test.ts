import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs } from '../../src/producer/key-sources';
import { StoreRegistry } from '../../src/storage/store-registry';
import { allFixtures } from '../support/fixtures';
import { openFleet } from '../support/fleet';
import { startRedis, uniqueQueue } from '../../tools/harness/redis';

/** A worker with --file-roots cannot be made to read or write outside them. */
describe('file roots', () => {
  let tmp: string;
  let registry: StoreRegistry;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-roots-'));
    fs.mkdirSync(path.join(tmp, 'photos'));
    fs.mkdirSync(path.join(tmp, 'secret'));
    fs.writeFileSync(path.join(tmp, 'photos', 'a.jpg'), 'inside');
    fs.writeFileSync(path.join(tmp, 'secret', 'key.pem'), 'outside');
    fs.symlinkSync(path.join(tmp, 'secret'), path.join(tmp, 'photos', 'escape'));
    registry = new StoreRegistry({ fileRoots: [path.join(tmp, 'photos'), path.join(tmp, 'results/')] });
  });
  afterAll(async () => {
    await registry.closeAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('reads inside a root, keyed relative to it', async () => {
    const { store, key } = registry.resolve(`file://${tmp}/photos/a.jpg`);
    expect(key).toBe('a.jpg');
    expect((await store.get(key)).body.toString()).toBe('inside');
  });

  it('refuses paths outside every root, including prefix look-alikes', () => {
    expect(() => registry.resolve(`file://${tmp}/secret/key.pem`)).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
    expect(() => registry.resolve(`file://${tmp}/photos-other/x.jpg`)).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
    expect(() => registry.resolve(`file://${tmp}/photos/../secret/key.pem`)).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
  });

  it('does not follow a symlink out of the root', async () => {
    const { store, key } = registry.resolve(`file://${tmp}/photos/escape/key.pem`);
    await expect(store.get(key)).rejects.toMatchObject({ code: expect.stringMatching(/^E_(BAD_KEY|NOT_FOUND)$/) });
  });

  it('writes results only inside a root', async () => {
    const { store, key } = registry.resolve(`file://${tmp}/results/r/a.jpg.json`);
    await store.put(key, '{}');
    expect(fs.readFileSync(path.join(tmp, 'results', 'r', 'a.jpg.json'), 'utf8')).toBe('{}');
  });

  it('makes a worker with --file-roots fail jobs outside them with E_BAD_KEY', async () => {
    const redis = await startRedis();
    const fleet = openFleet(redis.url, uniqueQueue('roots'));
    try {
      const photo = allFixtures().find((f) => f.file === 'astronaut.png')!;
      fs.copyFileSync(photo.path, path.join(tmp, 'photos', 'astronaut.png'));
      await fleet.startWorker({ fileRoots: `${tmp}/photos,${tmp}/results` });
      const keys = [`file://${tmp}/photos/astronaut.png`, `file://${tmp}/secret/key.pem`];
      await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs(keys, 'file:///'), { runId: 'roots', results: `file://${tmp}/results`, model: 'retinaface' });
      const status = await fleet.waitForRun('roots');
      expect(status).toMatchObject({ done: 1, failed: 1, failures: { E_BAD_KEY: 1 } });
    } finally {
      await fleet.close();
      await redis.stop();
    }
  });

  it('refuses every file:// location when no root is named', () => {
    const none = new StoreRegistry({ fileRoots: [] });
    expect(() => none.resolve(`file://${tmp}/photos/a.jpg`)).toThrow(expect.objectContaining({ code: 'E_BAD_KEY', message: expect.stringContaining('file:// locations are off') }));
  });

  it('makes a default worker (no --file-roots) fail every file:// job with E_BAD_KEY and write nothing', async () => {
    const redis = await startRedis();
    const fleet = openFleet(redis.url, uniqueQueue('no-roots'));
    try {
      const photo = allFixtures().find((f) => f.file === 'astronaut.png')!;
      fs.copyFileSync(photo.path, path.join(tmp, 'photos', 'default.png'));
      await fleet.startWorker({ fileRoots: undefined });
      await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs([`file://${tmp}/photos/default.png`], 'file:///'), { runId: 'no-roots', results: `file://${tmp}/default-results`, model: 'retinaface' });
      const status = await fleet.waitForRun('no-roots');
      expect(status).toMatchObject({ done: 0, failed: 1, failures: { E_BAD_KEY: 1 } });
      expect(fs.existsSync(path.join(tmp, 'default-results'))).toBe(false);
    } finally {
      await fleet.close();
      await redis.stop();
    }
  });
});
