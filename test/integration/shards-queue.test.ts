import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { loadServeConfig } from '../../src/config/serve-config';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { findRepoRoot } from '../../src/models/registry';
import { backlogOf, enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs } from '../../src/producer/key-sources';
import { runKey } from '../../src/queue/connection';
import { jobIdFor } from '../../src/queue/job-data';
import { connectQueue, QueueHandles } from '../../src/queue/queue-handles';
import { RunStore } from '../../src/queue/run-store';
import { checkShardCount, shardCountKey, shardOf, shardsOf } from '../../src/queue/shards';
import type { RunView } from '../../src/serve/run-view';
import { startServe } from '../../src/serve/start-serve';
import { createLogger } from '../../src/telemetry/logger';
import { startWorker } from '../../src/worker/start-worker';
import { uniqueQueue } from '../../tools/harness/redis';
import { runFacefleet } from '../../tools/harness/facefleet-process';
import { redisSuite } from '../support/redis-suite';
import { waitForRun } from '../support/fleet';
import { copyPhotos } from '../support/photo-runs';
import { itWith } from '../support/prerequisites';
import { testAllowedLocations, testFileRootsFlag } from '../support/test-roots';

const root = findRepoRoot();



/**
 * A queue split into shards on one real redis-server: where the producer puts each key, the run
 * record added up over the shards, the backlog bound over all shards, counting each job once, the
 * shard count every process must agree on, and serve's run routes over the shards.
 */
describe('a queue split into shards (one Redis)', () => {
  const suite = redisSuite('ff-shards-');



  const open = (queue: string, shards: number): Promise<QueueHandles> => connectQueue({ redisUrl: suite.redis.url, queue, redisPrefix: 'bull', shards });

  it('sends each key to shard sha256(source) mod N and keeps one total per shard, which add up; the same keys again add nothing', async () => {
    const queue = uniqueQueue('split');
    const q = await open(queue, 4);
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `file:///photos/img-${i}.jpg`);
      const report = await enqueueRun(q.queues, q.redis, q.runs, fromArgs(keys, 'file:///'), { runId: 'r1', results: 'file:///out', model: 'blazeface', chunkSize: 37 });
      expect(report).toEqual({ runId: 'r1', enqueued: 200, duplicates: 0 });
      for (const [shard, bq] of q.queues.entries()) {
        const mine = keys.filter((k) => shardOf(k, 4) === shard);
        const jobs = await bq.getWaiting(0, -1);
        expect(jobs.map((j) => j.data.source).sort()).toEqual(mine.sort());
        expect(jobs.map((j) => j.id).sort()).toEqual(mine.map((k) => jobIdFor(k, 'blazeface', 'r1')).sort());
        expect(Number(await suite.conn.hget(runKey(q.shards[shard], 'r1'), 'total'))).toBe(mine.length);
        expect(mine.length).toBeGreaterThan(20);
      }
      expect(await q.runs.get('r1')).toMatchObject({ total: 200, done: 0, sealed: true, model: 'blazeface' });

      const again = await enqueueRun(q.queues, q.redis, q.runs, fromArgs([...keys.slice(0, 50), 'file:///photos/new.jpg'], 'file:///'), { runId: 'r1', results: 'file:///out', model: 'blazeface' });
      expect(again).toEqual({ runId: 'r1', enqueued: 1, duplicates: 50 });
      expect((await q.runs.get('r1'))?.total).toBe(201);
      // Nothing is written under the unsplit queue's keys but the recorded shard count.
      expect(await suite.conn.keys(`bull:${queue}:*`)).toEqual([shardCountKey({ queue, prefix: 'bull' })]);
      expect(await suite.conn.get(shardCountKey({ queue, prefix: 'bull' }))).toBe('4');
    } finally {
      await q.close();
    }
  });

  it('never lets the backlog of all shards together exceed --max-backlog', async () => {
    const q = await open(uniqueQueue('bound'), 3);
    const seen: number[] = [];
    const connections = q.queues.map(() => suite.conn.duplicate());
    const workers = q.queues.map((bq, i) => new Worker(bq.name, async () => new Promise((r) => setTimeout(r, 5)), { connection: connections[i], prefix: 'bull', concurrency: 2 }));
    const sampler = setInterval(() => void backlogOf(q.queues).then((n) => seen.push(n)), 20);
    try {
      const keys = Array.from({ length: 400 }, (_, i) => `file:///photos/b-${i}.jpg`);
      const report = await enqueueRun(q.queues, q.redis, q.runs, fromArgs(keys, 'file:///'), { runId: 'bounded', results: 'file:///out', model: 'blazeface', chunkSize: 25, maxBacklog: 60, backlogPollMs: 20 });
      expect(report.enqueued).toBe(400);
      expect(seen.length).toBeGreaterThan(10);
      expect(Math.max(...seen)).toBeLessThanOrEqual(60);
    } finally {
      clearInterval(sampler);
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(connections.map((c) => c.quit()));
      await q.close();
    }
  });

  it("counts a job's outcome once however often it runs, and takes back only a failure counted for it", async () => {
    const q = await open(uniqueQueue('once'), 2);
    try {
      await enqueueRun(q.queues, q.redis, q.runs, fromArgs(['file:///photos/a.jpg', 'file:///photos/b.jpg'], 'file:///'), { runId: 'once', results: 'file:///out', model: 'blazeface' });
      const jobKey = (source: string) => `bull:${q.shards[shardOf(source, 2)].queue}:${jobIdFor(source, 'blazeface', 'once')}`;
      const a = { jobKey: jobKey('file:///photos/a.jpg'), outcome: 'done' as const };
      const b = { jobKey: jobKey('file:///photos/b.jpg'), outcome: 'failed' as const, code: 'E_DECODE' as const };
      const shardA = shardOf('file:///photos/a.jpg', 2);
      const shardB = shardOf('file:///photos/b.jpg', 2);
      expect(await q.runs.recordJobs('once', [a], shardA)).toBe(1);
      expect(await q.runs.recordJobs('once', [a], shardA)).toBe(0);
      expect(await q.runs.recordJobs('once', [b], shardB)).toBe(1);
      expect(await q.runs.get('once')).toMatchObject({ total: 2, done: 1, failed: 1, failures: { E_DECODE: 1 } });
      // A job counted as done is not taken back as a failure; the failed one is, once, and counts again.
      await q.runs.unrecordFailure('once', 'E_DECODE', { shard: shardA, jobKey: a.jobKey });
      await q.runs.unrecordFailure('once', 'E_DECODE', { shard: shardB, jobKey: b.jobKey });
      await q.runs.unrecordFailure('once', 'E_DECODE', { shard: shardB, jobKey: b.jobKey });
      expect(await q.runs.get('once')).toMatchObject({ done: 1, failed: 0, failures: { E_DECODE: 0 } });
      expect(await q.runs.recordJobs('once', [b], shardB)).toBe(1);
      expect(await q.runs.get('once')).toMatchObject({ done: 1, failed: 1, failures: { E_DECODE: 1 } });
      // A job that no longer exists is not counted, and no hash is created for it.
      expect(await q.runs.recordJobs('once', [{ jobKey: 'bull:{x-0}:gone', outcome: 'done' }], shardA)).toBe(0);
      expect(await suite.conn.exists('bull:{x-0}:gone')).toBe(0);
      expect(await q.runs.recordJobs('no-such-run', [a], shardA)).toBeNull();
    } finally {
      await q.close();
    }
  });

  it('refuses a producer or a worker that splits the queue another way than the first, naming both counts', async () => {
    const queue = uniqueQueue('mismatch');
    const target = { queue, prefix: 'bull', shards: 4 };
    expect(await checkShardCount(suite.conn, target)).toBe(4);
    await expect(checkShardCount(suite.conn, { ...target, shards: 2 }, { field: 'shards (--shards)' })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringMatching(/^shards \(--shards\): queue mismatch-\w+ is split into 4 shard\(s\) on this Redis .*given 2; start it with --shards 4/),
    });
    // Reading commands only check; a queue nobody used has no count.
    expect(await checkShardCount(suite.conn, { queue: uniqueQueue('fresh'), prefix: 'bull' }, { claim: false })).toBeUndefined();

    const env = { REDIS_URL: suite.redis.url, FACEFLEET_QUEUE: queue };
    const enqueue = runFacefleet(['enqueue', '--shards', '2', '--results', `file://${suite.tmp}/out`, `file://${suite.tmp}/x.jpg`], { env, logLevel: 'warn' });
    expect(enqueue.status).toBe(64);
    expect(enqueue.stderr).toMatch(/E_CONFIG/);
    expect(enqueue.stderr).toMatch(/split into 4 shard\(s\).*given 2/);
    const runs = runFacefleet(['runs', '--json'], { env: { ...env, FACEFLEET_SHARDS: '3' }, logLevel: 'warn' });
    expect(runs.status).toBe(64);
    expect(runs.stderr).toMatch(/shards \(env FACEFLEET_SHARDS\): queue .* split into 4 shard\(s\).*given 3/);
    const worker = runFacefleet(['worker', '--shards', '1', '--model', 'blazeface', '--metrics-port', '0'], { env, logLevel: 'warn' });
    expect(worker.status).toBe(64);
    expect(worker.stderr).toMatch(/split into 4 shard\(s\).*given 1/);
    expect(await suite.conn.get(shardCountKey(target))).toBe('4');
  });

  const pythonReady = spawnSync('python3', ['-c', 'import bullmq'], { stdio: 'ignore' }).status === 0;
  itWith({ name: 'python3 with the bullmq package', available: pythonReady, install: 'python3 -m pip install -r examples/python/requirements.txt' }, 'the Python producer splits a queue the same way, with the same run records', async () => {
    const queue = uniqueQueue('py');
    const keys = Array.from({ length: 30 }, (_, i) => `file:///photos/py-${i}.jpg`);
    const run = spawnSync('python3', [path.join(root, 'examples', 'python', 'enqueue.py'), '--redis-url', suite.redis.url, '--queue', queue, '--shards', '3', '--model', 'blazeface', '--results', 'file:///out', '--run-id', 'py-run', ...keys], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ enqueued: 30, duplicates: 0 });
    const q = await open(queue, 3);
    try {
      expect(await q.runs.get('py-run')).toMatchObject({ total: 30, sealed: true, model: 'blazeface' });
      for (const [shard, bq] of q.queues.entries()) {
        expect((await bq.getWaiting(0, -1)).map((j) => j.data.source).sort()).toEqual(keys.filter((k) => shardOf(k, 3) === shard).sort());
      }
      // The TypeScript producer sees the same jobs as already queued.
      expect(await enqueueRun(q.queues, q.redis, q.runs, fromArgs(keys, 'file:///'), { runId: 'py-run', results: 'file:///out', model: 'blazeface' })).toMatchObject({ enqueued: 0, duplicates: 30 });
    } finally {
      await q.close();
    }
    const refused = spawnSync('python3', [path.join(root, 'examples', 'python', 'enqueue.py'), '--redis-url', suite.redis.url, '--queue', queue, '--shards', '2', '--results', 'file:///out', 'file:///photos/x.jpg'], { encoding: 'utf8' });
    expect(refused.status).toBe(64);
    expect(refused.stderr).toMatch(/split into 3 shard\(s\)/);
  });

  it('serve enqueues over the shards, and /v1/runs adds them up while a worker consumes a subset', async () => {
    const queue = uniqueQueue('serve');
    const photos = copyPhotos(path.join(suite.tmp, 'serve-photos'), 24);
    const results = `file://${suite.tmp}/serve-out`;
    const log = createLogger({ level: 'silent' });
    const server = await startServe(loadServeConfig({ redisUrl: suite.redis.url, queue, shards: '3', model: 'blazeface', port: 0, allowedLocations: testAllowedLocations() }, {}), log, { handleSignals: false });
    const flags = { redisUrl: suite.redis.url, queue, shards: '3', model: 'blazeface', batch: '4', metricsPort: 0, fileRoots: testFileRootsFlag() };
    const first = await startWorker(loadWorkerConfig({ ...flags, shardIds: '0,2' }, {}), log, { handleSignals: false });
    let second: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const keys = photos.map((p) => `file://${p.path}`);
      const posted = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys, results, runId: 'via-serve', model: 'blazeface' }) });
      expect(posted.status).toBe(201);
      expect(await posted.json()).toMatchObject({ runId: 'via-serve', enqueued: 24 });
      const onShard1 = keys.filter((k) => shardOf(k, 3) === 1).length;
      expect(onShard1).toBeGreaterThan(0);
      // Shards 0 and 2 are consumed; shard 1 waits for a worker that takes it.
      const runs = new RunStore(suite.conn, { queue, prefix: 'bull', shards: 3 });
      const deadline = Date.now() + 60_000;
      while (((await runs.get('via-serve'))?.done ?? 0) < 24 - onShard1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const partial = (await (await fetch(`${server.url}/v1/runs/via-serve`)).json()) as RunView;
      expect(partial).toMatchObject({ total: 24, done: 24 - onShard1, state: 'running' });
      const shard1 = new Queue(shardsOf({ queue, prefix: 'bull', shards: 3 })[1].queue, { connection: suite.conn, prefix: 'bull' });
      expect(await shard1.getWaitingCount()).toBe(onShard1);
      await shard1.close();

      second = await startWorker(loadWorkerConfig({ ...flags, shardIds: '1' }, {}), log, { handleSignals: false });
      await waitForRun(runs, 'via-serve');
      const view = (await (await fetch(`${server.url}/v1/runs/via-serve`)).json()) as RunView;
      expect(view).toMatchObject({ total: 24, done: 24, failed: 0, state: 'finished', progress: 1 });
      const list = (await (await fetch(`${server.url}/v1/runs`)).json()) as { runs: RunView[] };
      expect(list.runs.find((r) => r.runId === 'via-serve')).toMatchObject({ total: 24, done: 24 });
      const page = (await (await fetch(`${server.url}/v1/runs/via-serve/results?limit=200`)).json()) as { items: Array<{ key: string }> };
      expect(page.items.map((i) => i.key).sort()).toEqual(photos.map((p) => p.path.slice(1)).sort());
    } finally {
      await second?.lifecycle.close();
      await first.lifecycle.close();
      await server.lifecycle.close();
    }
  });
});
