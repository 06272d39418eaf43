import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromArgs } from '../../src/producer/key-sources';
import { runKey } from '../../src/queue/connection';
import { JOB_NAME, jobIdFor } from '../../src/queue/job-data';
import { DEFAULT_JOB_POLICY } from '../../src/queue/job-options';
import { DEFAULT_RUN_TTL_SECONDS, RunStore } from '../../src/queue/run-store';
import { parseReason } from '../../src/errors';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

/**
 * Run records against a real Redis and a real worker: outcomes count only into a run that exists and
 * only for jobs that belong to it; records expire; run ids are capped.
 */
describe('run records', () => {
  let redis: PrivateRedis;
  let fleet: TestFleet;
  let tmp: string;
  const policy = { ...DEFAULT_JOB_POLICY, attempts: 1, backoffMs: 100 };

  beforeAll(async () => {
    redis = await startRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-runs-'));
    fleet = openFleet(redis.url, uniqueQueue('runs'));
  });
  afterAll(async () => {
    await fleet?.close();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const target = () => ({ queue: fleet.queueName, prefix: 'bull' });

  it('counts an outcome only into a run that exists, creating nothing otherwise', async () => {
    const runs = new RunStore(fleet.redis, target());
    expect(await runs.record('ghost', 'failed', 'E_DECODE')).toBe(false);
    await runs.unrecordFailure('ghost', 'E_DECODE');
    await runs.addTotal('ghost', 3);
    await runs.seal('ghost');
    expect(await fleet.redis.exists(runKey(target(), 'ghost'))).toBe(0);
    await runs.create('real', { results: 'file:///x', model: 'blazeface' });
    expect(await runs.record('real', 'failed', 'E_DECODE')).toBe(true);
    expect(await runs.get('real')).toMatchObject({ failed: 1, failures: { E_DECODE: 1 } });
  });

  it('refuses run ids over 128 characters, and writes no key for them', async () => {
    const runs = new RunStore(fleet.redis, target());
    const long = 'r'.repeat(1024 * 1024);
    await expect(runs.create(long, { results: 'file:///x', model: 'blazeface' })).rejects.toMatchObject({ code: 'E_BAD_JOB' });
    expect(await runs.record(long, 'failed', 'E_BAD_JOB')).toBe(false);
    expect(await runs.get(long)).toBeNull();
    await runs.create('r'.repeat(128), { results: 'file:///x', model: 'blazeface' });
    expect(await runs.get('r'.repeat(128))).not.toBeNull();
    const keys = await fleet.redis.keys('*');
    expect(Math.max(...keys.map((k) => k.length))).toBeLessThan(400);
  });

  it('expires a record after its time to live, refreshed by each change, and drops it from the index', async () => {
    const runs = new RunStore(fleet.redis, target(), { ttlSeconds: 2 });
    await runs.create('short', { results: 'file:///x', model: 'blazeface' });
    const key = runKey(target(), 'short');
    expect(await fleet.redis.ttl(key)).toBeGreaterThan(0);
    expect(await fleet.redis.ttl(key)).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1_200));
    // A worker's store has the default TTL, but refreshes by the record's own.
    expect(await new RunStore(fleet.redis, target()).record('short', 'done')).toBe(true);
    expect(await fleet.redis.pttl(key)).toBeGreaterThan(1_500);
    expect((await runs.list()).map((r) => r.runId)).toContain('short');
    await new Promise((r) => setTimeout(r, 2_300));
    expect(await runs.get('short')).toBeNull();
    expect((await runs.list()).map((r) => r.runId)).not.toContain('short');
    expect(await fleet.redis.zscore(`bull:${fleet.queueName}:facefleet:runs`, 'short')).toBeNull();
    // Counting into it now creates nothing.
    expect(await runs.record('short', 'failed', 'E_DECODE')).toBe(false);
    expect(await fleet.redis.exists(key)).toBe(0);
    const byDefault = new RunStore(fleet.redis, target());
    await byDefault.create('long-lived', { results: 'file:///x', model: 'blazeface' });
    expect(await fleet.redis.ttl(runKey(target(), 'long-lived'))).toBeGreaterThan(DEFAULT_RUN_TTL_SECONDS - 60);
  });

  it('a worker counts failures only of jobs that belong to an existing run', async () => {
    await fleet.startWorker({ batch: 2, model: 'blazeface' });
    const runId = 'victim';
    const results = `file://${tmp}/out`;
    await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromArgs([`file://${tmp}/missing.jpg`], 'file:///'), { runId, results, model: 'blazeface', policy });
    const before = await fleet.waitForRun(runId, 30_000);
    expect(before).toMatchObject({ total: 1, failed: 1, failures: { E_NOT_FOUND: 1 } });

    const valid = (source: string, run: string) => ({ v: 1, source, results, runId: run, model: 'blazeface' });
    const opts = { attempts: 1, removeOnFail: false };
    // A bad payload naming the real run, a valid one under an id no producer derives, and one for a run never created.
    await fleet.queue.add(JOB_NAME, { v: 1, runId, source: 42 }, { ...opts, jobId: 'bad-payload' });
    await fleet.queue.add(JOB_NAME, valid(`file://${tmp}/other.jpg`, runId), { ...opts, jobId: 'hand-made-id' });
    await fleet.queue.add(JOB_NAME, valid(`file://${tmp}/ghost.jpg`, 'ghost-run'), { ...opts, jobId: jobIdFor(`file://${tmp}/ghost.jpg`, 'blazeface', 'ghost-run') });
    const deadline = Date.now() + 30_000;
    while ((await fleet.queue.getFailedCount()) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const failed = await fleet.queue.getFailed(0, -1);
    expect(Object.fromEntries(failed.map((j) => [j.id, parseReason(j.failedReason).code]))).toMatchObject({ 'bad-payload': 'E_BAD_JOB', 'hand-made-id': 'E_NOT_FOUND' });
    expect(failed).toHaveLength(4);
    expect(await fleet.runs.get(runId)).toEqual(before);
    expect(await fleet.redis.exists(runKey(target(), 'ghost-run'))).toBe(0);
  });
});
