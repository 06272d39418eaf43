import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs, fromPrefix } from '../../src/producer/key-sources';
import { connectQueue, QueueHandles } from '../../src/queue/queue-handles';
import type { RunStatus } from '../../src/queue/run-store';
import { shardOf } from '../../src/queue/shards';
import { StoreRegistry } from '../../src/storage/store-registry';
import { FacefleetProcess, runFacefleet } from '../../tools/harness/facefleet-process';
import { pollUntil } from '../../tools/harness/poll';
import { uniqueQueue } from '../../tools/harness/redis';
import { waitForRun as waitForRunRecord } from '../support/fleet';
import { copyPhotos, countJsonFiles, PhotoCopy, scanResults } from '../support/photo-runs';
import { describeWith } from '../support/prerequisites';
import { ProcessGroup } from '../support/process-group';
import { RedisClusterHarness } from '../support/redis-cluster';
import { testFileRootsFlag } from '../support/test-roots';

const SHARDS = 6;

/**
 * Sharded runs on a real Redis Cluster of three masters (no replicas, AOF everysec,
 * cluster-require-full-coverage no): the shards spread over the masters, a run completes with every
 * result present and counted once, nothing is lost when a worker is SIGKILLed or a master is killed
 * with SIGKILL and started again on its port and data directory, the admin commands see every shard,
 * and a producer splitting the queue another way is refused.
 */
describeWith({ name: 'redis-server and redis-cli', available: RedisClusterHarness.available(), install: 'sudo apt-get install redis-server redis-tools' }, 'sharded queues on a real Redis Cluster', () => {
  const procs = new ProcessGroup();
  const queue = uniqueQueue('cluster');
  const stores = new StoreRegistry();
  let cluster: RedisClusterHarness;
  let q: QueueHandles;
  let tmp: string;
  let photos: PhotoCopy[];

  /** `facefleet <args>` against the cluster and this queue. */
  const facefleet = (args: string[], env: Record<string, string> = {}) =>
    runFacefleet(args, { logLevel: 'warn', env: { REDIS_URL: cluster.url, FACEFLEET_REDIS_CLUSTER: 'true', FACEFLEET_QUEUE: queue, FACEFLEET_SHARDS: String(SHARDS), ...env } });

  /** A worker process on the cluster; a 5 s lock and a 2 s stalled check bring a dead worker's jobs back within seconds. */
  const spawnWorker = (id: string): FacefleetProcess =>
    procs.spawnWorker(cluster.url, queue, ['--redis-cluster', '--shards', String(SHARDS), '--model', 'blazeface', '--batch', '4', '--lock-duration-ms', '5000', '--stalled-interval-ms', '2000', '--worker-id', id], { env: { FACEFLEET_FILE_ROOTS: testFileRootsFlag() } });

  const waitForRun = (runId: string, timeoutMs = 150_000): Promise<RunStatus> => waitForRunRecord(q.runs, runId, timeoutMs, 200);

  /** Every job of every shard, by state. */
  const jobCounts = async () => {
    const all = await Promise.all(q.queues.map((bq) => bq.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')));
    return all.reduce<Record<string, number>>((sum, c) => {
      for (const [k, v] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    }, {});
  };

  /**
   * Waits until no job of any shard is waiting, active or delayed. A job counted before its worker or
   * its master died, then left active, is run again once its lock expires (and not counted again), so
   * a run can be complete while such jobs still finish.
   */
  const drained = () =>
    pollUntil('every shard drained', async () => {
      const c = await jobCounts();
      return c.waiting + c.active + c.delayed + c.prioritized === 0 ? c : undefined;
    }, 60_000, 200);

  /** Enqueues the photos as run `runId` into results folder `out`. */
  const enqueuePhotos = (runId: string, out: string) => enqueueRun(q.queues, q.redis, q.runs, fromPrefix(stores, `file://${tmp}/photos/`), { runId, results: `file://${out}`, model: 'blazeface' });

  /** Every photo has exactly one valid result of this run in `out`. */
  const expectEveryResult = (out: string, runId: string) => {
    const scan = scanResults(out);
    expect(scan.bad).toEqual([]);
    expect(scan.other).toEqual([]);
    expect([...scan.results.keys()].sort()).toEqual(photos.map((p) => p.key).sort());
    for (const p of photos) expect(scan.results.get(p.key)).toMatchObject({ key: p.key, runId, source: { url: `file://${p.path}` }, model: { id: 'blazeface' } });
  };

  beforeAll(async () => {
    cluster = await RedisClusterHarness.start({ masters: 3 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cluster-run-'));
    photos = copyPhotos(path.join(tmp, 'photos'), 240);
    q = await connectQueue({ redisUrl: cluster.url, redisCluster: true, queue, redisPrefix: 'bull', shards: SHARDS });
  }, 120_000);

  afterAll(async () => {
    await procs.killAll();
    await q?.close();
    await stores.closeAll();
    await cluster?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('places the shards on every master', async () => {
    const masters = await Promise.all(q.shards.map((s) => cluster.nodeOf(`${s.prefix}:${s.queue}:wait`)));
    expect(new Set(masters).size).toBe(3);
  });

  it('completes a sharded run with every result present and each image counted once', async () => {
    const out = path.join(tmp, 'out-plain');
    const report = await enqueuePhotos('plain', out);
    expect(report.enqueued).toBe(photos.length);
    const perShard = new Array<number>(SHARDS).fill(0);
    for (const p of photos) perShard[shardOf(`file://${p.path}`, SHARDS)]++;
    expect(perShard.every((n) => n > 0)).toBe(true);

    const workers = [spawnWorker('plain-a'), spawnWorker('plain-b')];
    await Promise.all(workers.map((w) => w.waitForStart()));
    const run = await waitForRun('plain');
    await Promise.all(workers.map((w) => w.stop()));
    expect(workers.map((w) => w.exitStatus)).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);

    expect(run).toMatchObject({ total: photos.length, done: photos.length, skipped: 0, failed: 0, sealed: true, failures: {} });
    expect(await jobCounts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 0, completed: photos.length });
    expectEveryResult(out, 'plain');
  }, 240_000);

  it('loses nothing when a worker is killed with SIGKILL mid-run; the run still counts each image once', async () => {
    const out = path.join(tmp, 'out-worker-kill');
    expect((await enqueuePhotos('worker-kill', out)).enqueued).toBe(photos.length);
    const a = spawnWorker('kill-a');
    await a.waitForStart();
    await pollUntil('20 results from worker A', () => (countJsonFiles(out) >= 20 ? true : undefined), 90_000, 10);
    a.signal('SIGKILL');
    expect(await a.waitForExit(10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    const heldByA = (await Promise.all(q.queues.map((bq) => bq.getActiveCount()))).reduce((x, y) => x + y, 0);
    // The kill must have interrupted jobs in hand, or nothing is being tested.
    expect(heldByA).toBeGreaterThan(0);

    const b = spawnWorker('kill-b');
    await b.waitForStart();
    const run = await waitForRun('worker-kill');
    await drained();
    await b.stop();
    expect(run).toMatchObject({ total: photos.length, done: photos.length, failed: 0, failures: {} });
    expect(await jobCounts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expectEveryResult(out, 'worker-kill');
  }, 240_000);

  it('loses nothing when a master is killed with SIGKILL mid-run and started again on its port and data directory', async () => {
    const out = path.join(tmp, 'out-master-kill');
    expect((await enqueuePhotos('master-kill', out)).enqueued).toBe(photos.length);
    // The master of shard 0 holds jobs, and run records, of this run; so may others of its shards.
    const victim = await cluster.nodeOf(`bull:${q.shards[0].queue}:wait`);
    const masters = await Promise.all(q.shards.map((s) => cluster.nodeOf(`${s.prefix}:${s.queue}:wait`)));
    const onVictim = photos.filter((p) => masters[shardOf(`file://${p.path}`, SHARDS)] === victim);
    const doneOn = (list: PhotoCopy[]) => list.filter((p) => fs.existsSync(path.join(out, `${p.key}.json`))).length;
    const workers = [spawnWorker('master-a'), spawnWorker('master-b')];
    await Promise.all(workers.map((w) => w.waitForStart()));
    await pollUntil('20 results', () => (countJsonFiles(out) >= 20 ? true : undefined), 90_000, 10);
    await cluster.kill(victim);
    const atKill = countJsonFiles(out);
    // The kill must leave jobs of the victim's shards unfinished, or nothing is being tested.
    expect(doneOn(onVictim)).toBeLessThan(onVictim.length);
    // The cluster flags the master as failed; meanwhile the other masters' shards keep being processed.
    await cluster.waitMarkedFailed(victim);
    await pollUntil('progress on the other masters', () => (countJsonFiles(out) > atKill + 10 ? true : undefined), 60_000, 50);
    await cluster.restart(victim);

    const run = await waitForRun('master-kill', 180_000);
    await drained();
    await Promise.all(workers.map((w) => w.stop()));
    expect(workers.filter((w) => w.crashed)).toEqual([]);
    expect(run).toMatchObject({ total: photos.length, done: photos.length, failed: 0, failures: {} });
    expect(await jobCounts()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expectEveryResult(out, 'master-kill');
  }, 300_000);

  it('runs, failed and retry see every shard, and a retried failure is counted once', async () => {
    const missing = Array.from({ length: 18 }, (_, i) => `file://${tmp}/missing/m-${i}.jpg`);
    const good = photos.slice(0, 12).map((p) => `file://${p.path}`);
    expect(new Set(missing.map((m) => shardOf(m, SHARDS))).size).toBeGreaterThan(2);
    const out = path.join(tmp, 'out-failed');
    await enqueueRun(q.queues, q.redis, q.runs, fromArgs([...missing, ...good], 'file:///'), { runId: 'with-failures', results: `file://${out}`, model: 'blazeface', policy: { attempts: 1, backoffMs: 100, keepCompleted: 1000, keepFailed: 1000 } });
    const worker = spawnWorker('admin');
    await worker.waitForStart();
    try {
      expect(await waitForRun('with-failures')).toMatchObject({ total: 30, done: 12, failed: 18, failures: { E_NOT_FOUND: 18 } });

      const runs = facefleet(['runs', '--json']);
      expect(runs.status).toBe(0);
      expect((JSON.parse(runs.stdout) as RunStatus[]).find((r) => r.runId === 'with-failures')).toMatchObject({ total: 30, done: 12, failed: 18 });
      const one = facefleet(['runs', 'with-failures', '--json']);
      expect(JSON.parse(one.stdout)).toMatchObject({ total: 30, failed: 18, failures: { E_NOT_FOUND: 18 } });

      const list = facefleet(['failed', 'list', '--run', 'with-failures', '--json']);
      expect(list.status).toBe(0);
      const failed = JSON.parse(list.stdout) as Array<{ source: string; code: string }>;
      expect(failed.map((f) => f.source).sort()).toEqual([...missing].sort());
      expect(new Set(failed.map((f) => f.code))).toEqual(new Set(['E_NOT_FOUND']));

      // Permanent failures stay unless --all; with it, each is sent back once and fails once more.
      expect(JSON.parse(facefleet(['failed', 'retry', '--run', 'with-failures']).stdout)).toEqual({ retried: 0, kept: 18 });
      expect(JSON.parse(facefleet(['failed', 'retry', '--run', 'with-failures', '--all']).stdout)).toEqual({ retried: 18, kept: 0 });
      // The retry took the failures back (the run is unfinished again) until the jobs fail anew.
      const after = await waitForRun('with-failures');
      expect(after).toMatchObject({ total: 30, done: 12, failed: 18, failures: { E_NOT_FOUND: 18 } });
      const exported = facefleet(['failed', 'export', '--run', 'with-failures']);
      expect(exported.stdout.trim().split('\n')).toHaveLength(18);
    } finally {
      await worker.stop();
    }
  }, 240_000);

  it('refuses a producer or a worker given another --shards than the one recorded, naming both', async () => {
    const enqueue = facefleet(['enqueue', '--shards', '3', '--results', `file://${tmp}/never`, `file://${photos[0].path}`]);
    expect(enqueue.status).toBe(64);
    expect(enqueue.stderr).toMatch(new RegExp(`E_CONFIG.*split into ${SHARDS} shard\\(s\\).*given 3`, 's'));
    const worker = facefleet(['worker', '--model', 'blazeface', '--metrics-port', '0'], { FACEFLEET_SHARDS: '4' });
    expect(worker.status).toBe(64);
    expect(worker.stderr).toMatch(new RegExp(`shards \\(env FACEFLEET_SHARDS\\): queue ${queue} is split into ${SHARDS} shard\\(s\\).*given 4`));
    expect(countJsonFiles(path.join(tmp, 'never'))).toBe(0);
  }, 120_000);
});
