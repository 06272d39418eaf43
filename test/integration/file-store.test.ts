import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FacefleetError } from '../../src/errors';
import { FileStore } from '../../src/storage/file-store';
import type { ObjectEntry } from '../../src/storage/object-store';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err instanceof FacefleetError ? err.code : `non-facefleet: ${String(err)}`;
  }
}

async function collect(iterable: AsyncIterable<ObjectEntry>): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of iterable) keys.push(entry.key);
  return keys;
}

/** Every file name under `dir`, recursively. */
async function allNames(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true });
  return entries.map(String);
}

describe('FileStore', () => {
  let tmp: string;
  let root: string;
  let store: FileStore;

  beforeEach(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'facefleet-file-store-'));
    root = path.join(tmp, 'root');
    store = new FileStore(root);
  });

  afterEach(async () => {
    await store.close();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('puts, gets and heads, creating parent folders; unicode keys work', async () => {
    await store.put('a/b/c/顔 😀.json', '{"faces":[]}');
    const { body, head } = await store.get('a/b/c/顔 😀.json');
    expect(body.toString()).toBe('{"faces":[]}');
    expect(head).toMatchObject({ size: 12, metadata: {} });
    expect(head.etag).toMatch(/^[0-9a-f]+-c$/);
    expect(await store.head('a/b/c/顔 😀.json')).toEqual(head);
    expect(await fsp.readFile(path.join(root, 'a', 'b', 'c', '顔 😀.json'), 'utf8')).toBe('{"faces":[]}');
    expect(store.url).toBe(`file://${root}`);
  });

  it('reports missing objects: get → E_NOT_FOUND, head → null, delete → no error', async () => {
    expect(await codeOf(store.get('missing.jpg'))).toBe('E_NOT_FOUND');
    expect(await store.head('missing.jpg')).toBeNull();
    await store.put('dir/x.jpg', 'x');
    expect(await codeOf(store.get('dir/x.jpg/below'))).toBe('E_NOT_FOUND');
    expect(await codeOf(store.get('dir'))).toBe('E_NOT_FOUND');
    expect(await store.head('dir')).toBeNull();
    await store.delete('missing.jpg');
    await store.delete('dir/x.jpg');
    expect(await store.head('dir/x.jpg')).toBeNull();
  });

  it('changes the etag when the content changes', async () => {
    await store.put('k.json', 'one');
    const first = await store.head('k.json');
    // Same size: only the modification time can tell the versions apart, so let the clock move.
    await new Promise((r) => setTimeout(r, 25));
    await store.put('k.json', 'two');
    const second = await store.head('k.json');
    await store.put('k.json', 'three!');
    const third = await store.head('k.json');
    expect(new Set([first?.etag, second?.etag, third?.etag]).size).toBe(3);
    expect(await store.head('k.json')).toEqual(third);
  });

  it('enforces maxBytes from the size, before reading', async () => {
    await store.put('big.bin', Buffer.alloc(1000, 7));
    expect(await codeOf(store.get('big.bin', { maxBytes: 999 }))).toBe('E_TOO_LARGE');
    expect((await store.get('big.bin', { maxBytes: 1000 })).body.length).toBe(1000);
    expect((await store.get('big.bin')).body.equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  it('rejects unsafe keys and symlinks that lead outside the root', async () => {
    for (const key of ['../escape.txt', '/abs.txt', 'a//b', 'a\\b', 'a/./b']) {
      expect(await codeOf(store.put(key, 'x'))).toBe('E_BAD_KEY');
      expect(await codeOf(store.get(key))).toBe('E_BAD_KEY');
    }
    const outside = path.join(tmp, 'outside');
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'secret.txt'), 'secret');
    await fsp.mkdir(root, { recursive: true });
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(root, 'link.txt'));
    await fsp.symlink(outside, path.join(root, 'linkdir'));
    expect(await codeOf(store.get('link.txt'))).toBe('E_BAD_KEY');
    expect(await codeOf(store.head('link.txt'))).toBe('E_BAD_KEY');
    expect(await codeOf(store.put('linkdir/new.txt', 'x'))).toBe('E_BAD_KEY');
    expect(await codeOf(store.put('linkdir/deeper/new.txt', 'x'))).toBe('E_BAD_KEY');
    expect(await allNames(outside)).toEqual(['secret.txt']);
    // A symlink that stays inside the root is fine.
    await store.put('real/target.txt', 'inside');
    await fsp.symlink(path.join(root, 'real', 'target.txt'), path.join(root, 'inner-link.txt'));
    expect((await store.get('inner-link.txt')).body.toString()).toBe('inside');
  });

  it('rejects a key that collides with an existing folder or file', async () => {
    await store.put('a/b.jpg', 'x');
    expect(await codeOf(store.put('a', 'y'))).toBe('E_BAD_KEY');
    expect(await codeOf(store.put('a/b.jpg/c', 'y'))).toBe('E_BAD_KEY');
    expect((await allNames(root)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('writes into a remembered folder again after it was removed, and refuses one replaced by a symlink out of the root', async () => {
    await store.put('results/a.json', '1');
    await fsp.rm(path.join(root, 'results'), { recursive: true });
    await store.put('results/b.json', '2');
    expect((await store.get('results/b.json')).body.toString()).toBe('2');
    // Removed, then put back as a symlink to a folder outside the root: checked again, refused.
    await fsp.rm(path.join(root, 'results'), { recursive: true });
    const outside = path.join(tmp, 'outside');
    await fsp.mkdir(outside);
    await fsp.symlink(outside, path.join(root, 'results'));
    expect(await codeOf(store.put('results/c.json', '3'))).toBe('E_BAD_KEY');
    expect(await fsp.readdir(outside)).toEqual([]);
  });

  it('lands every one of many concurrent writes into one folder (shared folder fsyncs), exactly once each', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `batch/img-${i}.json`);
    const created = await Promise.all(keys.map((k, i) => (i % 2 === 0 ? store.putIfAbsent(k, `v${i}`) : store.put(k, `v${i}`).then(() => true))));
    expect(created.every(Boolean)).toBe(true);
    const again = await Promise.all(keys.filter((_, i) => i % 2 === 0).map((k) => store.putIfAbsent(k, 'late')));
    expect(again.some(Boolean)).toBe(false);
    for (const [i, k] of keys.entries()) expect((await store.get(k)).body.toString()).toBe(`v${i}`);
    expect((await allNames(path.join(root, 'batch'))).sort()).toEqual(keys.map((k) => k.slice('batch/'.length)).sort());
  });

  it('creates a folder once: later writes into it only resolve it again', async () => {
    const mkdir = jest.spyOn(fsp, 'mkdir');
    const realpath = jest.spyOn(fsp, 'realpath');
    try {
      await store.put('results/a.json', '1');
      expect(mkdir).toHaveBeenCalled();
      mkdir.mockClear();
      realpath.mockClear();
      await store.put('results/b.json', '2');
      await store.putIfAbsent('results/c.json', '3');
      expect(mkdir).not.toHaveBeenCalled();
      expect(realpath.mock.calls.map((c) => c[0])).toEqual([path.join(root, 'results'), path.join(root, 'results')]);
    } finally {
      mkdir.mockRestore();
      realpath.mockRestore();
    }
  });

  it('makes writes that land while a folder fsync is pending share the next one', async () => {
    // Every folder fsync takes 200 ms here, so the renames of all writes finish while the first runs.
    const dirSyncs: string[] = [];
    const open = fsp.open.bind(fsp);
    const spy = jest.spyOn(fsp, 'open').mockImplementation(async (file, flags, mode) => {
      const handle = await open(file, flags, mode);
      if (flags === 'r' && (await handle.stat()).isDirectory()) {
        const sync = handle.sync.bind(handle);
        handle.sync = async () => {
          dirSyncs.push(String(file));
          await new Promise((r) => setTimeout(r, 200));
          return sync();
        };
      }
      return handle;
    });
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `shared/img-${i}.json`);
      await Promise.all(keys.map((k) => store.put(k, k)));
      for (const k of keys) expect((await store.get(k)).body.toString()).toBe(k);
      expect(dirSyncs.every((d) => d === path.join(root, 'shared'))).toBe(true);
      // One fsync per write without sharing; the first, then at most a few shared ones with it.
      expect(dirSyncs.length).toBeGreaterThanOrEqual(2);
      expect(dirSyncs.length).toBeLessThan(keys.length / 4);
    } finally {
      spy.mockRestore();
    }
  });

  it('puts atomically: concurrent readers see the old or the new object, never a partial one', async () => {
    const versions = [Buffer.alloc(3 * 1024 * 1024, 0x61), Buffer.alloc(2 * 1024 * 1024 + 17, 0x62)];
    await store.put('photo.jpg', versions[0]);
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 30; i++) await store.put('photo.jpg', versions[i % 2]);
      writing = false;
    })();
    const seen = new Set<number>();
    const readers = Array.from({ length: 3 }, async () => {
      while (writing) {
        const { body, head } = await store.get('photo.jpg');
        const match = versions.findIndex((v) => v.equals(body));
        expect(match).not.toBe(-1);
        expect(head.size).toBe(body.length);
        seen.add(match);
      }
    });
    await Promise.all([writer, ...readers]);
    expect(seen.size).toBeGreaterThan(0);
    expect(await allNames(root)).toEqual(['photo.jpg']);
  });

  it('lists by key prefix, in byte order of the keys, skipping temporary files', async () => {
    const keys = ['photos/2024/IMG_0001.jpg', 'photos/2024/IMG_0002.jpg', 'photos/2024/other.jpg', 'photos.txt',
      'photos/a.jpg', 'photos2/b.jpg', 'zeta/ü.jpg', 'zeta/z.jpg', 'A.jpg', 'a-b/c.jpg'];
    for (const key of keys) await store.put(key, key);
    await fsp.writeFile(path.join(root, 'photos', '.a.jpg.0123456789ab.tmp'), 'partial');

    const byteOrder = (list: string[]) => list.slice().sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(await collect(store.list(''))).toEqual(byteOrder(keys));
    expect(await collect(store.list('photos/2024/IMG_'))).toEqual(['photos/2024/IMG_0001.jpg', 'photos/2024/IMG_0002.jpg']);
    expect(await collect(store.list('photos/'))).toEqual(byteOrder(keys.filter((k) => k.startsWith('photos/'))));
    expect(await collect(store.list('photos'))).toEqual(byteOrder(keys.filter((k) => k.startsWith('photos'))));
    expect(await collect(store.list('nothing/here/'))).toEqual([]);
    expect(await collect(store.list('photos.txt/'))).toEqual([]);
    expect(await codeOf(collect(store.list('../')))).toBe('E_BAD_KEY');

    const entries: ObjectEntry[] = [];
    for await (const entry of store.list('zeta/')) entries.push(entry);
    expect(entries[0]).toEqual({ key: 'zeta/z.jpg', size: 10, etag: (await store.head('zeta/z.jpg'))?.etag });
  });

  it('lists lazily: folders are read only when the iteration reaches them', async () => {
    await store.put('a/1.jpg', '1');
    await store.put('b/2.jpg', '2');
    await store.put('c/3.jpg', '3');
    const iterator = store.list('')[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.key).toBe('a/1.jpg');
    // Changes after the first entry, in folders not yet reached, show up in the same listing.
    await store.put('c/4.jpg', '4');
    await store.delete('b/2.jpg');
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.key);
    expect(rest).toEqual(['c/3.jpg', 'c/4.jpg']);
  });

  it('lists nothing for a root that does not exist yet', async () => {
    expect(await collect(store.list(''))).toEqual([]);
  });

  it('reads regular files only: a FIFO, a folder, a socket or a device is E_NOT_FOUND at once, and nothing blocks', async () => {
    await fsp.mkdir(root, { recursive: true });
    const made = spawnSync('mkfifo', [path.join(root, 'pipe.jpg'), path.join(root, 'pipe2.jpg'), path.join(root, 'pipe3.jpg'), path.join(root, 'pipe4.jpg'), path.join(root, 'x.json')]);
    expect(made.status).toBe(0);
    await fsp.mkdir(path.join(root, 'folder.jpg'));
    const socket = net.createServer().listen(path.join(root, 'sock.jpg'));
    await new Promise((r) => socket.once('listening', r));
    await fsp.symlink('/dev/zero', path.join(root, 'zero.jpg'));
    const devices = new FileStore('/dev');
    try {
      // More FIFOs than libuv has threads: a blocking open of each would hold every one of them.
      const keys = ['pipe.jpg', 'pipe2.jpg', 'pipe3.jpg', 'pipe4.jpg', 'x.json', 'folder.jpg', 'sock.jpg'];
      const codes = await Promise.all(keys.map((k) => codeOf(store.get(k, { maxBytes: 1024 }))));
      expect(codes).toEqual(keys.map(() => 'E_NOT_FOUND'));
      await expect(store.get('pipe.jpg')).rejects.toThrow(/not a regular file \(FIFO\)/);
      expect(await codeOf(devices.get('zero'))).toBe('E_NOT_FOUND');
      expect(await codeOf(devices.get('null'))).toBe('E_NOT_FOUND');
      // A symlink to a device resolves outside the root: refused before any open.
      expect(await codeOf(store.get('zero.jpg'))).toMatch(/^E_(BAD_KEY|NOT_FOUND)$/);
      for (const k of keys) expect(await store.head(k)).toBeNull();
      expect(await collect(store.list(''))).toEqual([]);
      // The thread pool is still free: a regular file reads at once.
      await store.put('ok.jpg', 'fine');
      expect((await store.get('ok.jpg')).body.toString()).toBe('fine');
    } finally {
      socket.close();
    }
  });

  it('requires an absolute root', () => {
    expect(() => new FileStore('relative/dir')).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
  });
});
