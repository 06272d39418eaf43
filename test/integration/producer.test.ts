import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backlogOf, enqueueRun } from '../../src/producer/enqueue-run';
import { fromManifest, SourceKey } from '../../src/producer/key-sources';
import { jobIdFor } from '../../src/queue/job-data';
import { openFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

async function collect(it: AsyncIterable<SourceKey>): Promise<SourceKey[]> {
  const out: SourceKey[] = [];
  for await (const k of it) out.push(k);
  return out;
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
