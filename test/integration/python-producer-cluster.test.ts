import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jobIdFor, parseJobData } from '../../src/queue/job-data';
import { connectQueue, QueueHandles } from '../../src/queue/queue-handles';
import { runKey } from '../../src/queue/connection';
import { shardCountKey, shardOf } from '../../src/queue/shards';
import { runFacefleet } from '../../tools/harness/facefleet-process';
import { waitForRun } from '../support/fleet';
import { copyPhotos, PhotoCopy, scanResults } from '../support/photo-runs';
import { describeWith } from '../support/prerequisites';
import { ProcessGroup } from '../support/process-group';
import { enqueuePy, PYTHON_BULLMQ, runEnqueuePy } from '../support/python-producer';
import { RedisClusterHarness } from '../support/redis-cluster';

const SHARDS = 6;
const MODEL = 'blazeface';

/**
 * examples/python/enqueue.py on a real Redis Cluster of three masters: with `--redis-cluster` it puts
 * each image into its shard (`{<queue>-i}`, on the master owning that shard's slot) under the job ids,
 * payload and run records of the TypeScript producer, records the shard count, adds nothing twice,
 * and TypeScript worker processes finish the run with every result present and counted once. A
 * Python producer given another shard count is refused, and so is a TypeScript one after Python
 * recorded it.
 */
describeWith(
  [{ name: 'redis-server and redis-cli', available: RedisClusterHarness.available(), install: 'sudo apt-get install redis-server redis-tools' }, PYTHON_BULLMQ],
  'python producer on a Redis Cluster → TypeScript workers',
  () => {
    const procs = new ProcessGroup();
    let cluster: RedisClusterHarness;
    let queue: string;
    let q: QueueHandles;
    let tmp: string;
    let out: string;
    let photos: PhotoCopy[];
    const sourceOf = (p: PhotoCopy) => `file://${p.path}`;

    /** enqueue.py on the cluster and the test queue, the cluster named by the environment as the chart does. */
    const pyArgs = (runId: string, shards: number, sources: string[]) => ['--redis-url', cluster.url, '--queue', queue, '--shards', String(shards), '--model', MODEL, '--results', `file://${out}`, '--run-id', runId, ...sources];
    const pyEnv = { FACEFLEET_REDIS_CLUSTER: 'true' };

    beforeAll(async () => {
      cluster = await RedisClusterHarness.start({ masters: 3 });
      // Shards on every master, so the run really spans the cluster.
      queue = await cluster.queueWhere('pycluster', SHARDS, (perMaster) => perMaster.every((n) => n > 0));
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-pycluster-'));
      out = path.join(tmp, 'out');
      photos = copyPhotos(path.join(tmp, 'photos'), 90);
    }, 120_000);

    afterAll(async () => {
      await procs.killAll();
      await q?.close();
      await cluster?.stop();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('enqueues each image into its shard on the master owning it, with the TypeScript ids, payload and run records', async () => {
      const report = enqueuePy(pyArgs('py-cluster', SHARDS, photos.map(sourceOf)), pyEnv);
      expect(report).toEqual({ runId: 'py-cluster', enqueued: photos.length, duplicates: 0, jobIds: photos.map((p) => jobIdFor(sourceOf(p), MODEL, 'py-cluster')) });

      q = await connectQueue({ redisUrl: cluster.url, redisCluster: true, queue, redisPrefix: 'bull', shards: SHARDS }, { claim: false });
      expect(await q.redis.get(shardCountKey({ queue, prefix: 'bull' }))).toBe(String(SHARDS));
      const perShard = new Array<number>(SHARDS).fill(0);
      for (const p of photos) {
        const shard = shardOf(sourceOf(p), SHARDS);
        perShard[shard]++;
        const job = await q.queues[shard].getJob(jobIdFor(sourceOf(p), MODEL, 'py-cluster'));
        expect(job?.name).toBe('detect');
        expect(parseJobData(job?.data)).toEqual({ v: 1, source: sourceOf(p), results: `file://${out}`, runId: 'py-cluster', model: MODEL, key: p.path.slice(1) });
        expect(job?.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 2000 } });
      }
      // Each shard's record holds that shard's total, as the TypeScript producer writes it.
      for (const shard of q.shards) expect(await q.redis.hget(runKey(shard, 'py-cluster'), 'total')).toBe(perShard[shard.index] > 0 ? String(perShard[shard.index]) : null);
      expect(await q.runs.get('py-cluster')).toMatchObject({ total: photos.length, sealed: true, done: 0, model: MODEL, results: `file://${out}` });

      // Read from each node's own connection: every key of a shard sits on the master of its slot,
      // and the jobs are on all three masters.
      const keys = await cluster.scanKeys(`bull:{${queue}-*`);
      const jobKeys = [...keys.keys()].filter((k) => /^bull:\{[^}]+\}:ff-[0-9a-f]{40}$/.test(k));
      expect(jobKeys).toHaveLength(photos.length);
      const where = await cluster.nodesOf([...keys.keys()]);
      expect([...keys.values()]).toEqual(where);
      expect(new Set(jobKeys.map((k) => keys.get(k))).size).toBe(3);
    });

    it('adds nothing when the same images are enqueued again in the run', () => {
      expect(enqueuePy(pyArgs('py-cluster', SHARDS, photos.map(sourceOf)), pyEnv)).toMatchObject({ enqueued: 0, duplicates: photos.length });
    });

    it('is finished by TypeScript workers: every result present, each image counted once', async () => {
      const workers = ['py-a', 'py-b'].map((id) =>
        procs.spawnWorker(cluster.url, queue, ['--redis-cluster', '--shards', String(SHARDS), '--model', MODEL, '--batch', '4', '--worker-id', id]),
      );
      await Promise.all(workers.map((w) => w.waitForStart()));
      const run = await waitForRun(q.runs, 'py-cluster', 150_000, 200);
      await Promise.all(workers.map((w) => w.stop()));
      expect(workers.map((w) => w.exitStatus)).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
      expect(run).toMatchObject({ total: photos.length, done: photos.length, skipped: 0, failed: 0, sealed: true, failures: {} });

      const counts = await Promise.all(q.queues.map((bq) => bq.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed')));
      expect(counts.reduce((n, c) => n + c.completed, 0)).toBe(photos.length);
      expect(counts.reduce((n, c) => n + c.waiting + c.active + c.delayed + c.failed, 0)).toBe(0);
      const scan = scanResults(out);
      expect(scan.bad).toEqual([]);
      expect([...scan.results.keys()].sort()).toEqual(photos.map((p) => p.path.slice(1)).sort());
      for (const p of photos) expect(scan.results.get(p.path.slice(1))).toMatchObject({ runId: 'py-cluster', source: { url: sourceOf(p) }, model: { id: MODEL } });
    }, 240_000);

    it('refuses another --shards than the one recorded, in Python and then in TypeScript, adding nothing', async () => {
      const py = runEnqueuePy(pyArgs('py-wrong', 4, [sourceOf(photos[0])]), pyEnv);
      expect(py.status).toBe(64);
      expect(py.stderr).toMatch(new RegExp(`E_CONFIG.*queue ${queue} is split into ${SHARDS} shard\\(s\\).*given 4`));
      expect(await q.runs.get('py-wrong')).toBeNull();

      const ts = runFacefleet(['enqueue', '--redis-cluster', '--queue', queue, '--shards', '3', '--results', `file://${out}`, '--run-id', 'ts-wrong', sourceOf(photos[0])], { env: { REDIS_URL: cluster.url }, logLevel: 'warn' });
      expect(ts.status).toBe(64);
      expect(ts.stderr).toMatch(new RegExp(`E_CONFIG.*split into ${SHARDS} shard\\(s\\).*given 3`, 's'));
      expect(await q.runs.get('ts-wrong')).toBeNull();
      const waiting = await Promise.all(q.queues.map((bq) => bq.getWaitingCount()));
      expect(waiting.reduce((a, b) => a + b, 0)).toBe(0);
    });
  },
);
