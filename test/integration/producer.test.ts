import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backlogOf, enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs, SourceKey } from '../../src/producer/key-sources';
import { fromManifest, manifestBatches } from '../../src/producer/manifest';
import { runKey } from '../../src/queue/connection';
import { jobIdFor } from '../../src/queue/job-data';
import { connectQueue } from '../../src/queue/queue-handles';
import { shardOf } from '../../src/queue/shards';
import { openFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

async function collect(it: AsyncIterable<SourceKey>): Promise<SourceKey[]> {
  const out: SourceKey[] = [];
  for await (const k of it) out.push(k);
  return out;
}

/** Every key of a manifest read batch by batch, and the failure that ended the reading (`undefined`: none). */
async function readBatches(file: string, base: string): Promise<{ keys: SourceKey[]; batches: number; error: unknown }> {
  const keys: SourceKey[] = [];
  let batches = 0;
  try {
    for await (const batch of manifestBatches(file, base)) {
      batches++;
      keys.push(...batch);
    }
  } catch (error) {
    return { keys, batches, error };
  }
  return { keys, batches, error: undefined };
}

/** `file:///nowhere/<name>.jpg` keys, one at a time. */
async function* named(names: readonly string[]): AsyncGenerator<SourceKey> {
  for (const n of names) yield { source: `file:///nowhere/${n}.jpg`, key: `${n}.jpg` };
}

describe('producer', () => {
  let redis: PrivateRedis;
  let tmp: string;
  beforeAll(async () => {
    redis = await startRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-prod-'));
  });
  afterAll(async () => {
    await redis?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('reads plain, JSONL and CSV manifests, resolving relative keys against the base', async () => {
    const plain = path.join(tmp, 'keys.txt');
    fs.writeFileSync(plain, '# comment\na/1.jpg\n\ns3://other/x/2.jpg\n');
    const jsonl = path.join(tmp, 'keys.jsonl');
    fs.writeFileSync(jsonl, '{"key":"a/1.jpg"}\n{"key":"b/2.png","size":3}\n');
    const csv = path.join(tmp, 'keys.csv');
    fs.writeFileSync(csv, 'size,key\n10,a/1.jpg\n20,"b/2.png"\n');
    expect(await collect(fromManifest(plain, 's3://photos/base/'))).toEqual([
      { source: 's3://photos/base/a/1.jpg', key: 'a/1.jpg' },
      { source: 's3://other/x/2.jpg', key: 'x/2.jpg' },
    ]);
    expect((await collect(fromManifest(jsonl, 'file:///data/'))).map((k) => k.source)).toEqual(['file:///data/a/1.jpg', 'file:///data/b/2.png']);
    expect((await collect(fromManifest(csv, 'file:///data/'))).map((k) => k.key)).toEqual(['a/1.jpg', 'b/2.png']);
    const bad = path.join(tmp, 'bad.jsonl');
    fs.writeFileSync(bad, '{"key":"../etc/passwd"}\n');
    await expect(collect(fromManifest(bad, 'file:///data/'))).rejects.toMatchObject({ code: 'E_BAD_KEY' });
  });

  it('caps manifest lines: a file without line breaks fails at once instead of being read whole', async () => {
    const crlf = path.join(tmp, 'crlf.txt');
    fs.writeFileSync(crlf, `a/1.jpg\r\n${'d/'.repeat(400)}2.jpg\r\nlast.jpg`);
    expect((await collect(fromManifest(crlf, 'file:///data/'))).map((k) => k.key)).toEqual(['a/1.jpg', `${'d/'.repeat(400)}2.jpg`, 'last.jpg']);
    const blob = path.join(tmp, 'blob.bin');
    fs.writeFileSync(blob, Buffer.concat([Buffer.from('a/1.jpg\n'), Buffer.alloc(8 * 1024 * 1024, 0x61)]));
    const read: SourceKey[] = [];
    let caught: unknown;
    try {
      for await (const k of fromManifest(blob, 'file:///data/')) read.push(k);
    } catch (err) {
      caught = err;
    }
    expect(read.map((k) => k.key)).toEqual(['a/1.jpg']);
    expect(caught).toMatchObject({ code: 'E_BAD_JOB', message: `${blob}:2: line longer than 65536 bytes` });
  });

  it('reads a manifest of many reads whole: lines and UTF-8 characters split across reads, CRLF, comments, the same keys one by one and in batches', async () => {
    const file = path.join(tmp, 'many-reads.txt');
    // Several reads of the file, with lines of varying length so that reads end inside lines, inside
    // "\r\n" and inside multi-byte characters.
    const names = Array.from({ length: 20_000 }, (_, i) => `dir-${i % 97}/${'é'.repeat(i % 23)}img-${i}${i % 5 === 0 ? '-顔😀' : ''}.jpg`);
    const lines = names.flatMap((n, i) => (i % 1000 === 0 ? ['# a comment', '', n] : [n]));
    fs.writeFileSync(file, lines.map((l, i) => (i % 2 ? `${l}\r\n` : `${l}\n`)).join(''));
    const read = await readBatches(file, 's3://photos/base/');
    expect(read.error).toBeUndefined();
    expect(read.batches).toBeGreaterThan(3);
    expect(read.keys).toEqual(names.map((n) => ({ source: `s3://photos/base/${n}`, key: n })));
    expect(await collect(fromManifest(file, 's3://photos/base/'))).toEqual(read.keys);
  });

  it('fails a manifest at the bad line with its number, after handing on every key before it', async () => {
    const file = path.join(tmp, 'bad-late.txt');
    const good = Array.from({ length: 30_000 }, (_, i) => `photos/${i}.jpg`);
    fs.writeFileSync(file, `${good.join('\n')}\n{not json\nafter.jpg\n`);
    const read = await readBatches(file, 'file:///data/');
    expect(read.keys.map((k) => k.key)).toEqual(good);
    expect(read.error).toMatchObject({ code: 'E_BAD_JOB', message: `${file}:30001: not valid JSON` });

    const traversal = path.join(tmp, 'traversal-late.txt');
    fs.writeFileSync(traversal, `${good.join('\n')}\nphotos/../../etc/passwd\n`);
    const refused = await readBatches(traversal, 'file:///data/');
    expect(refused.keys).toHaveLength(good.length);
    expect(refused.error).toMatchObject({ code: 'E_BAD_KEY' });
  });

  it('measures the line cap in bytes of the file: multi-byte lines over it fail, lines of undecodable bytes under it pass', async () => {
    const note = (key: string, text: string) => `{"key":"${key}","note":"${text}"}`;
    // 33,000 "é" are 66,000 bytes (over 65,536) in 33,000 UTF-16 units (under it).
    const wide = path.join(tmp, 'wide.jsonl');
    fs.writeFileSync(wide, ['a.jpg', 'b.jpg', note('w.jpg', 'é'.repeat(33_000)), 'c.jpg', ''].join('\n'));
    const read = await readBatches(wide, 'file:///data/');
    expect(read.keys.map((k) => k.key)).toEqual(['a.jpg', 'b.jpg']);
    expect(read.error).toMatchObject({ code: 'E_BAD_JOB', message: `${wide}:3: line longer than 65536 bytes` });
    // 30,000 "é" are 60,000 bytes: under the cap, though three bytes per unit would not be.
    const under = path.join(tmp, 'under.jsonl');
    fs.writeFileSync(under, [note('u.jpg', 'é'.repeat(30_000)), note('v.jpg', 'x'.repeat(10_000)), ''].join('\n'));
    expect(await readBatches(under, 'file:///data/')).toMatchObject({ keys: [{ key: 'u.jpg' }, { key: 'v.jpg' }], error: undefined });
    // 30,000 bytes that are not UTF-8 decode to 30,000 replacement characters (90,000 bytes once
    // re-encoded); each line in the file is about 30,000 bytes, under the cap.
    const raw = path.join(tmp, 'raw.jsonl');
    const rawLine = (key: string) => Buffer.concat([Buffer.from(`{"key":"${key}","note":"`), Buffer.alloc(30_000, 0xff), Buffer.from('"}\n')]);
    fs.writeFileSync(raw, Buffer.concat([rawLine('r1.jpg'), rawLine('r2.jpg'), rawLine('r3.jpg')]));
    expect(await readBatches(raw, 'file:///data/')).toMatchObject({ keys: [{ key: 'r1.jpg' }, { key: 'r2.jpg' }, { key: 'r3.jpg' }], error: undefined });
  });

  it('never lets the backlog exceed --max-backlog, and enqueues every key in the end', async () => {
    const queue = uniqueQueue('backlog');
    const fleet = openFleet(redis.url, queue);
    const manifest = path.join(tmp, 'big.txt');
    const total = 300;
    fs.writeFileSync(manifest, Array.from({ length: total }, (_, i) => `missing/${i}.jpg`).join('\n'));
    let maxSeen = 0;
    let stop = false;
    const sampler = (async () => {
      while (!stop) {
        maxSeen = Math.max(maxSeen, await backlogOf(fleet.queue));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      // The keys do not exist: each job fails fast with E_NOT_FOUND, which drains the backlog.
      await fleet.startWorker({ batch: 4, concurrency: 4 });
      let waited = 0;
      const report = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromManifest(manifest, `file://${tmp}/`), {
        runId: 'backlog',
        results: `file://${tmp}/results`,
        model: 'retinaface',
        chunkSize: 50,
        maxBacklog: 10,
        backlogPollMs: 20,
        onBackpressure: () => waited++,
        onProgress: async () => {
          maxSeen = Math.max(maxSeen, await backlogOf(fleet.queue));
        },
      });
      expect(report.enqueued).toBe(total);
      expect(waited).toBeGreaterThan(0);
      const status = await fleet.waitForRun('backlog');
      expect(status).toMatchObject({ total, failed: total });
      expect(status.failures).toEqual({ E_NOT_FOUND: total });
    } finally {
      stop = true;
      await sampler;
      await fleet.close();
    }
    expect(maxSeen).toBeLessThanOrEqual(10);
  });

  it('counts a key repeated in the next chunk (still in flight) as a duplicate, so the run total is exact', async () => {
    const fleet = openFleet(redis.url, uniqueQueue('dupe-chunks'));
    try {
      // Chunks of 2 with two in flight: every repeat lands in the chunk right after its first sighting,
      // or two chunks later, or in the same chunk.
      const names = ['a', 'b', 'a', 'c', 'b', 'd', 'e', 'e', 'c', 'f', 'g', 'a', 'h', 'h', 'i', 'd'];
      const keys = (async function* () {
        for (const n of names) yield { source: `file:///nowhere/${n}.jpg`, key: `${n}.jpg` };
      })();
      const unique = new Set(names).size;
      // Each addBulk reaches Redis late, so the next chunk's EXISTS check always runs before the chunk
      // in flight has landed: only the producer's own bookkeeping can see those repeats.
      const addBulk = fleet.queue.addBulk.bind(fleet.queue);
      fleet.queue.addBulk = async (jobs) => {
        await new Promise((r) => setTimeout(r, 50));
        return addBulk(jobs);
      };
      const report = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, keys, { runId: 'chunks', results: `file://${tmp}/r`, model: 'retinaface', chunkSize: 2 });
      expect(report).toMatchObject({ enqueued: unique, duplicates: names.length - unique });
      expect(await fleet.queue.getWaitingCount()).toBe(unique);
      expect(await fleet.runs.get('chunks')).toMatchObject({ total: unique, sealed: true });
    } finally {
      await fleet.close();
    }
  });

  it('counts only new jobs when a run is enqueued again with chunk boundaries inside the keys already queued', async () => {
    const fleet = openFleet(redis.url, uniqueQueue('dupe-again'));
    try {
      const options = { runId: 'again', results: `file://${tmp}/r`, model: 'retinaface', chunkSize: 4 };
      const first = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, named(Array.from({ length: 10 }, (_, i) => `k${i}`)), options);
      expect(first).toMatchObject({ enqueued: 10, duplicates: 0 });
      // Chunks of 4: [k5 k6 k6 k7] all queued (k6 twice), [k8 k9 k10 k9] two queued, one new and a
      // repeat, [k11 k12 k13 k14] all new, [k3 k14] one queued, one from the chunk before.
      const second = ['k5', 'k6', 'k6', 'k7', 'k8', 'k9', 'k10', 'k9', 'k11', 'k12', 'k13', 'k14', 'k3', 'k14'];
      const report = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, named(second), options);
      expect(report).toMatchObject({ enqueued: 5, duplicates: second.length - 5 });
      expect(await fleet.queue.getWaitingCount()).toBe(15);
      expect(await fleet.runs.get('again')).toMatchObject({ total: 15, sealed: true });
      // The same keys a third time: every chunk is all duplicates.
      const third = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, named(second), options);
      expect(third).toMatchObject({ enqueued: 0, duplicates: second.length });
      expect((await fleet.runs.get('again'))?.total).toBe(15);
    } finally {
      await fleet.close();
    }
  });

  it('takes keys in batches as well as one by one, cutting chunks across batches, with repeats still in flight counted once', async () => {
    const fleet = openFleet(redis.url, uniqueQueue('batches'));
    try {
      const key = (n: string): SourceKey => ({ source: `file:///nowhere/${n}.jpg`, key: `${n}.jpg` });
      const items: Array<SourceKey | SourceKey[]> = [['a', 'b', 'c', 'a', 'd'].map(key), key('b'), [], ['e', 'c', 'f', 'g', 'e', 'h', 'a', 'i'].map(key), key('i'), ['j'].map(key)];
      const all = items.flatMap((it) => (Array.isArray(it) ? it : [it]));
      const unique = new Set(all.map((k) => k.source)).size;
      const addBulk = fleet.queue.addBulk.bind(fleet.queue);
      fleet.queue.addBulk = async (jobs) => {
        await new Promise((r) => setTimeout(r, 30));
        return addBulk(jobs);
      };
      const source = (async function* () {
        yield* items;
      })();
      const seen: number[] = [];
      const report = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, source, {
        runId: 'batches',
        results: `file://${tmp}/r`,
        model: 'retinaface',
        chunkSize: 3,
        onProgress: (n, dup) => seen.push(n + dup),
      });
      expect(report).toMatchObject({ enqueued: unique, duplicates: all.length - unique });
      // Chunks of 3 whatever the batches: 3, 6, … and the rest.
      expect(seen).toEqual([3, 6, 9, 12, 15, 16]);
      expect((await fleet.queue.getWaiting(0, -1)).map((j) => j.data.key).sort()).toEqual([...new Set(all.map((k) => k.key))].sort());
      expect(await fleet.runs.get('batches')).toMatchObject({ total: unique, sealed: true });
    } finally {
      await fleet.close();
    }
  });

  it('streams a manifest in batches into the queue with the same jobs and total as key by key', async () => {
    const file = path.join(tmp, 'batched.txt');
    // Repeats a chunk apart, two chunks apart and far apart.
    const names = Array.from({ length: 5_000 }, (_, i) => `p/${i % 3 === 0 ? i : i % 4_000}.jpg`);
    fs.writeFileSync(file, `${names.join('\n')}\n`);
    const unique = new Set(names).size;
    const byKey = openFleet(redis.url, uniqueQueue('by-key'));
    const byBatch = openFleet(redis.url, uniqueQueue('by-batch'));
    try {
      const options = { runId: 'manifest', results: `file://${tmp}/r`, model: 'retinaface', chunkSize: 700 };
      const a = await enqueueRun(byKey.queue, byKey.redis, byKey.runs, fromManifest(file, `file://${tmp}/`), options);
      const b = await enqueueRun(byBatch.queue, byBatch.redis, byBatch.runs, manifestBatches(file, `file://${tmp}/`), options);
      expect(a).toMatchObject({ enqueued: unique, duplicates: names.length - unique });
      expect(b).toEqual(a);
      const ids = async (q: typeof byKey) => (await q.queue.getWaiting(0, -1)).map((j) => j.id).sort();
      expect(await ids(byBatch)).toEqual(await ids(byKey));
      expect((await byBatch.runs.get('manifest'))?.total).toBe(unique);
    } finally {
      await byKey.close();
      await byBatch.close();
    }
  });

  it('splits new jobs and duplicates by shard: each shard checks its own keys and adds its own total', async () => {
    const q = await connectQueue({ redisUrl: redis.url, queue: uniqueQueue('dupe-shards'), redisPrefix: 'bull', shards: 3 });
    try {
      const keys = Array.from({ length: 120 }, (_, i) => `file:///photos/${i}.jpg`);
      const options = { runId: 'split', results: `file://${tmp}/r`, model: 'retinaface', chunkSize: 16 };
      expect(await enqueueRun(q.queues, q.redis, q.runs, fromArgs(keys.slice(0, 70), 'file:///'), options)).toMatchObject({ enqueued: 70, duplicates: 0 });
      // Again from key 40 on, each key twice in a row: chunk boundaries fall inside queued keys of
      // every shard and between a key and its repeat.
      const again = keys.slice(40).flatMap((k) => [k, k]);
      expect(await enqueueRun(q.queues, q.redis, q.runs, fromArgs(again, 'file:///'), options)).toMatchObject({ enqueued: 50, duplicates: again.length - 50 });
      for (const [shard, bq] of q.queues.entries()) {
        const mine = keys.filter((k) => shardOf(k, 3) === shard);
        expect((await bq.getWaiting(0, -1)).map((j) => j.data.source).sort()).toEqual([...mine].sort());
        expect(Number(await q.redis.hget(runKey(q.shards[shard], 'split'), 'total'))).toBe(mine.length);
      }
      expect(await q.runs.get('split')).toMatchObject({ total: 120, sealed: true });
    } finally {
      await q.close();
    }
  });

  it('treats the same key twice in a run as one job, and works under a Redis Cluster hash-tag prefix', async () => {
    const fleet = openFleet(redis.url, uniqueQueue('dupe'), '{facefleet}');
    try {
      const keys = (async function* () {
        yield { source: 'file:///nowhere/a.jpg', key: 'a.jpg' };
        yield { source: 'file:///nowhere/a.jpg', key: 'a.jpg' };
        yield { source: 'file:///nowhere/b.jpg', key: 'b.jpg' };
      })();
      const options = { runId: 'dupes', results: `file://${tmp}/r`, model: 'retinaface' };
      const first = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, keys, options);
      expect(first).toMatchObject({ enqueued: 2, duplicates: 1 });
      const again = await enqueueRun(fleet.queue, fleet.redis, fleet.runs, (async function* () {
        yield { source: 'file:///nowhere/a.jpg', key: 'a.jpg' };
      })(), options);
      expect(again).toMatchObject({ enqueued: 0, duplicates: 1 });
      expect(await fleet.queue.getWaitingCount()).toBe(2);
      const job = await fleet.queue.getJob(jobIdFor('file:///nowhere/a.jpg', 'retinaface', 'dupes'));
      expect(job?.data).toMatchObject({ v: 1, source: 'file:///nowhere/a.jpg', key: 'a.jpg', runId: 'dupes', model: 'retinaface' });
      const keysInRedis = await fleet.redis.keys(`*${fleet.queueName}*`);
      expect(keysInRedis.length).toBeGreaterThan(0);
      expect(keysInRedis.every((k) => k.startsWith('{facefleet}:'))).toBe(true);
      expect((await fleet.runs.get('dupes'))?.total).toBe(2);
    } finally {
      await fleet.close();
    }
  });
});
