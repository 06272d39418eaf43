import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FacefleetError } from '../../src/errors';
import type { ObjectEntry } from '../../src/storage/object-store';
import { s3ClientConfigFromEnv } from '../../src/storage/s3-client-config';
import { S3Store } from '../../src/storage/s3-store';
import { StoreRegistry } from '../../src/storage/store-registry';
import { findVersitygw, startS3Server, type S3Server } from '../../tools/harness/s3-server';
import { codeOf } from '../support/error-code';

async function collect(iterable: AsyncIterable<ObjectEntry>): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of iterable) keys.push(entry.key);
  return keys;
}

function configFor(server: S3Server, secretAccessKey = server.secretAccessKey, accessKeyId = server.accessKeyId): S3ClientConfig {
  return { ...s3ClientConfigFromEnv({ FACEFLEET_S3_ENDPOINT: server.endpoint }), credentials: { accessKeyId, secretAccessKey } };
}

/** Counts the ListObjectsV2 requests a client sends (observation only; the server is real). */
function countLists(client: S3Client): { count: number } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListObjectsV2Command') counter.count++;
      return next(args);
    },
    { step: 'initialize', name: 'facefleetTestListCounter' },
  );
  return counter;
}

describe('S3Store against versitygw', () => {
  let server: S3Server;
  let bucket: string;
  let store: S3Store;

  beforeAll(async () => {
    server = await startS3Server();
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    bucket = `ff-${randomBytes(6).toString('hex')}`;
    await server.createBucket(bucket);
    store = new S3Store(bucket, configFor(server));
  });

  afterEach(async () => {
    await store.close();
  });

  it('puts, gets and heads with content type and metadata', async () => {
    const metadata = { 'source-etag': 'abc123', 'model-id': 'blazeface', 'model-version': '1.0.0' };
    await store.put('results/a.jpg.json', '{"faces":[]}', { contentType: 'application/json', metadata });
    const { body, head } = await store.get('results/a.jpg.json');
    expect(body.toString()).toBe('{"faces":[]}');
    expect(head.size).toBe(12);
    expect(head.metadata).toEqual(metadata);
    expect(head.etag).toMatch(/^[^"]+$/);
    expect(head.lastModified).toBeInstanceOf(Date);
    expect(await store.head('results/a.jpg.json')).toEqual(head);
    expect(store.url).toBe(`s3://${bucket}`);

    await store.put('results/a.jpg.json', '{"faces":[{}]}');
    const changed = await store.head('results/a.jpg.json');
    expect(changed?.etag).not.toBe(head.etag);
    expect(changed?.size).toBe(14);
  });

  it('keeps keys verbatim: unicode, spaces, percent signs and URL delimiters', async () => {
    const keys = ['写真/顔 😀.jpg', 'a b/c+d.jpg', 'p%20q/r%2F..%2Fs.jpg', 'what?/x#y.jpg', 'x=1&y=2/z.jpg'];
    for (const key of keys) await store.put(key, key);
    for (const key of keys) expect((await store.get(key)).body.toString()).toBe(key);
    expect((await collect(store.list(''))).sort()).toEqual(keys.slice().sort());
  });

  it('refuses unsafe keys before sending anything', async () => {
    expect(await codeOf(store.get('../x'))).toBe('E_BAD_KEY');
    expect(await codeOf(store.put('a//b', 'x'))).toBe('E_BAD_KEY');
    expect(await codeOf(store.head('/abs'))).toBe('E_BAD_KEY');
  });

  it('lists under a prefix page by page, fetching each page only when needed', async () => {
    const paged = new S3Store(bucket, new S3Client(configFor(server)), { listPageSize: 7 });
    const lists = countLists(paged.client);
    const keys = Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(3, '0')}.jpg`);
    for (const key of keys) await store.put(key, 'x');
    await store.put('pagex.jpg', 'x');
    await store.put('other/1.jpg', 'x');

    const iterator = paged.list('page/')[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ key: 'page/000.jpg', size: 1 });
    expect(lists.count).toBe(1);
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.key);
    expect(['page/000.jpg', ...rest]).toEqual(keys);
    expect(lists.count).toBe(4);
    expect(await collect(paged.list('page'))).toEqual([...keys, 'pagex.jpg']);
    expect(await collect(paged.list('nothing/'))).toEqual([]);
    paged.client.destroy();
  });

  it('lists more than 1000 objects with the default page size', async () => {
    const lists = countLists(store.client);
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, '')));
    expect(await collect(store.list('many/'))).toEqual(keys);
    expect(lists.count).toBe(2);
  });

  it('reports a missing key: get → E_NOT_FOUND, head → null, delete → no error', async () => {
    expect(await codeOf(store.get('missing.jpg'))).toBe('E_NOT_FOUND');
    expect(await store.head('missing.jpg')).toBeNull();
    await store.delete('missing.jpg');
    await store.put('present.jpg', 'x');
    await store.delete('present.jpg');
    expect(await store.head('present.jpg')).toBeNull();
  });

  it('reports a missing bucket as E_NOT_FOUND naming the bucket, also on head', async () => {
    const missing = new S3Store('ff-no-such-bucket', configFor(server));
    try {
      const attempts = [() => missing.get('a.jpg'), () => missing.head('a.jpg'), () => missing.put('a.jpg', 'x'), () => collect(missing.list(''))];
      for (const attempt of attempts) {
        await expect(attempt()).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/bucket "ff-no-such-bucket" does not exist/) });
      }
      expect(await codeOf(missing.delete('a.jpg'))).toBe('E_NOT_FOUND');
    } finally {
      await missing.close();
    }
  });

  it('reports wrong credentials as E_STORAGE_DENIED', async () => {
    await store.put('a.jpg', 'x');
    const wrongSecret = new S3Store(bucket, configFor(server, 'not-the-secret'));
    const unknownKey = new S3Store(bucket, configFor(server, 'whatever', 'ffunknownaccesskey'));
    try {
      expect(await codeOf(wrongSecret.get('a.jpg'))).toBe('E_STORAGE_DENIED');
      expect(await codeOf(wrongSecret.head('a.jpg'))).toBe('E_STORAGE_DENIED');
      expect(await codeOf(wrongSecret.put('b.jpg', 'x'))).toBe('E_STORAGE_DENIED');
      expect(await codeOf(collect(wrongSecret.list('')))).toBe('E_STORAGE_DENIED');
      expect(await codeOf(unknownKey.get('a.jpg'))).toBe('E_STORAGE_DENIED');
    } finally {
      await wrongSecret.close();
      await unknownKey.close();
    }
  });

  it('refuses objects above maxBytes with E_TOO_LARGE', async () => {
    await store.put('big.bin', Buffer.alloc(100_000, 1));
    expect(await codeOf(store.get('big.bin', { maxBytes: 99_999 }))).toBe('E_TOO_LARGE');
    expect((await store.get('big.bin', { maxBytes: 100_000 })).body.length).toBe(100_000);
    // The connection is still usable after a refused download.
    expect((await store.get('big.bin')).body.equals(Buffer.alloc(100_000, 1))).toBe(true);
  });

  it('reports a stopped server as transient E_STORAGE', async () => {
    const other = await startS3Server();
    await other.createBucket('ff-gone');
    const doomed = new S3Store('ff-gone', configFor(other));
    try {
      await doomed.put('a.jpg', 'x');
      await other.stop();
      const attempts = [() => doomed.get('a.jpg'), () => doomed.head('a.jpg'), () => doomed.put('b.jpg', 'x'), () => collect(doomed.list(''))];
      for (const attempt of attempts) {
        const err = await attempt().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(FacefleetError);
        expect(err).toMatchObject({ code: 'E_STORAGE', kind: 'transient' });
      }
    } finally {
      await doomed.close();
      await other.stop();
    }
  });
});

describe('StoreRegistry with S3 and file URLs', () => {
  let server: S3Server;
  let tmp: string;

  beforeAll(async () => {
    server = await startS3Server();
    await server.createBucket('ff-registry');
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'facefleet-registry-'));
  });

  afterAll(async () => {
    await server?.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('caches one store per bucket and one for files, and closes them all once', async () => {
    const registry = new StoreRegistry({ s3: configFor(server) });
    const a = registry.resolve('s3://ff-registry/photos/a.jpg');
    const b = registry.resolve('s3://ff-registry/photos/');
    const other = registry.resolve('s3://ff-other/x.jpg');
    const file = registry.resolve(`file://${tmp}/out/a.json`);
    expect(a.store).toBe(b.store);
    expect(other.store).not.toBe(a.store);
    expect([a.key, b.key, other.key]).toEqual(['photos/a.jpg', 'photos/', 'x.jpg']);
    expect(file.key).toBe(`${tmp.slice(1)}/out/a.json`);
    expect(file.store.url).toBe('file:///');
    expect(registry.resolve('file:///elsewhere/b.json').store).toBe(file.store);
    expect(registry.size).toBe(3);

    await a.store.put(a.key, 'jpeg bytes');
    expect((await b.store.get('photos/a.jpg')).body.toString()).toBe('jpeg bytes');
    await file.store.put(file.key, '{}');
    expect(await fsp.readFile(path.join(tmp, 'out', 'a.json'), 'utf8')).toBe('{}');

    const closing = registry.closeAll();
    expect(registry.closeAll()).toBe(closing);
    await closing;
    expect(registry.size).toBe(0);
    expect(() => registry.resolve('s3://ff-registry/a.jpg')).toThrow(expect.objectContaining({ code: 'E_SHUTDOWN' }));
  });

  it('rejects malformed URLs with E_BAD_KEY', () => {
    const registry = new StoreRegistry({ s3: configFor(server) });
    expect(() => registry.resolve('s3://ff-registry/../x')).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
    expect(() => registry.resolve('gs://bucket/x')).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
    expect(registry.size).toBe(0);
  });
});

describe('the versitygw harness', () => {
  it('names the script that builds versitygw when the binary is missing', () => {
    const env = { FACEFLEET_TOOLS: '/nonexistent/facefleet-tools', HOME: '/nonexistent/home' };
    expect(() => findVersitygw(env)).toThrow(
      /versitygw not found .*\/nonexistent\/facefleet-tools\/bin\/versitygw.*\/nonexistent\/home\/.cache.*scripts\/install-tools\.sh/,
    );
  });

  it('prefers $FACEFLEET_TOOLS/bin/versitygw', async () => {
    const tools = await fsp.mkdtemp(path.join(os.tmpdir(), 'facefleet-tools-'));
    try {
      await fsp.mkdir(path.join(tools, 'bin'));
      await fsp.writeFile(path.join(tools, 'bin', 'versitygw'), '');
      expect(findVersitygw({ FACEFLEET_TOOLS: tools, HOME: '/nonexistent/home' })).toBe(path.join(tools, 'bin', 'versitygw'));
    } finally {
      await fsp.rm(tools, { recursive: true, force: true });
    }
  });
});
