import { Queue } from 'bullmq';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { RunStore } from '../../src/queue/run-store';
import { uniqueQueue } from '../../tools/harness/redis';
import { pollUntil } from '../../tools/harness/poll';
import { copyPhotos, countJsonFiles, PhotoCopy, scanResults } from '../support/photo-runs';
import { redisSuite } from '../support/redis-suite';

/**
 * Graceful shutdown with real processes: SIGTERM stops fetching, finishes the jobs in hand and writes
 * their results, then exits 0 within the drain deadline; nothing is left active or marked completed
 * without its result, and the next worker finishes the rest. A second signal while draining exits 1.
 */
describe('worker stopped with SIGTERM', () => {
  const suite = redisSuite('ff-sigterm-');
  const { procs, stores } = suite;

  /** A fresh queue with `count` photos enqueued as one run. */
  async function enqueuePhotos(label: string, count: number) {
    const queueName = uniqueQueue(label);
    const queue = new Queue(queueName, { connection: suite.conn, prefix: 'bull' });
    suite.onClose(() => queue.close());
    const runs = new RunStore(suite.conn, { queue: queueName, prefix: 'bull' });
    const photos: PhotoCopy[] = copyPhotos(path.join(suite.tmp, label, 'photos'), count);
    const resultsDir = path.join(suite.tmp, label, 'results');
    const runId = `${label}-run`;
    const report = await enqueueRun(queue, suite.conn, runs, fromPrefix(stores, `file://${suite.tmp}/${label}/photos/`), { runId, results: `file://${resultsDir}`, model: 'retinaface' });
    expect(report.enqueued).toBe(count);
    return { queueName, queue, runs, photos, resultsDir, runId };
  }


  it('drains: exits 0 in time, every completed job has its result, the rest waits for the next worker', async () => {
    const { queueName, queue, runs, photos, resultsDir, runId } = await enqueuePhotos('drain', 40);
    // Concurrency = batch keeps the jobs in hand to one batch, so part of the run is still queued at the signal.
    const flags = ['--batch', '8', '--concurrency', '8', '--drain-timeout-ms', '20000'];
    const first = procs.spawnWorker(suite.redis.url, queueName, [...flags, '--worker-id', 'first']);
    await first.waitForStart();
    await pollUntil('a first result', () => (countJsonFiles(resultsDir) >= 1 ? true : undefined), 90_000, 10);
    // Jobs in hand now are finished by the drain, or were finished just before the signal.
    const inHand = (await queue.getJobs(['active'])).map((j) => j.id as string);
    first.signal('SIGTERM');
    // Past the deadline the worker exits 1, so exit code 0 also says the drain finished in time.
    expect(await first.waitForExit(30_000)).toEqual({ code: 0, signal: null });
    expect(first.log('draining')).toMatchObject({ signal: 'SIGTERM', deadlineMs: 20000 });
    expect(first.log('stopped')).toMatchObject({ ok: true });
    expect(first.log('second signal: exiting now')).toBeUndefined();

    const counts = await queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized');
    expect(counts).toMatchObject({ active: 0, failed: 0, delayed: 0, prioritized: 0 });
    expect(counts.completed + counts.waiting).toBe(photos.length);
    expect(counts.completed).toBeGreaterThan(0);
    for (const id of inHand) expect(await queue.getJobState(id)).toBe('completed');

    // Completed ⇔ result written: the same keys on both sides, each result complete.
    const completedKeys = (await queue.getCompleted(0, -1)).map((j) => String(j.data.key)).sort();
    const afterFirst = scanResults(resultsDir);
    expect(afterFirst.bad).toEqual([]);
    expect(afterFirst.temps).toEqual([]);
    expect([...afterFirst.results.keys()].sort()).toEqual(completedKeys);
    for (const r of afterFirst.results.values()) expect(r.worker).toBe('first');
    expect(await runs.get(runId)).toMatchObject({ done: counts.completed, failed: 0 });

    const second = procs.spawnWorker(suite.redis.url, queueName, [...flags, '--worker-id', 'second']);
    await second.waitForStart();
    await pollUntil('every job completed', async () => ((await queue.getJobCounts('completed')).completed >= photos.length ? true : undefined), 120_000, 200);
    second.signal('SIGTERM');
    expect(await second.waitForExit(30_000)).toEqual({ code: 0, signal: null });

    expect(await queue.getJobCounts('completed', 'failed', 'active', 'waiting')).toEqual({ completed: photos.length, failed: 0, active: 0, waiting: 0 });
    const all = scanResults(resultsDir);
    expect(all.bad).toEqual([]);
    expect(all.temps).toEqual([]);
    expect([...all.results.keys()].sort()).toEqual(photos.map((p) => p.key).sort());
    // The first worker's results were not redone.
    for (const key of completedKeys) expect(all.results.get(key)!.worker).toBe('first');
    expect(await runs.get(runId)).toMatchObject({ total: photos.length, done: photos.length, failed: 0, sealed: true });
  }, 180_000);

  it('exits 1 at once on a second signal while draining', async () => {
    // Many jobs in hand and one inference thread make the drain take seconds, against the
    // milliseconds between the "draining" line and the second signal.
    const { queueName, queue, resultsDir } = await enqueuePhotos('force', 160);
    const flags = ['--batch', '8', '--concurrency', '160', '--threads', '1', '--drain-timeout-ms', '60000', '--worker-id', 'forced'];
    const worker = procs.spawnWorker(suite.redis.url, queueName, flags);
    await worker.waitForStart();
    await pollUntil('a first result', () => (countJsonFiles(resultsDir) >= 1 ? true : undefined), 90_000, 10);
    worker.signal('SIGTERM');
    await worker.waitForLog('draining', 10_000);
    worker.signal('SIGINT');
    expect(await worker.waitForExit(10_000)).toEqual({ code: 1, signal: null });
    expect(worker.log('second signal: exiting now')).toMatchObject({ signal: 'SIGINT' });
    expect(worker.log('stopped')).toBeUndefined();

    // Cut short: the jobs it held stay active until their locks expire; no result is partial.
    const counts = await queue.getJobCounts('completed', 'failed', 'active');
    expect(counts.failed).toBe(0);
    expect(counts.active).toBeGreaterThan(0);
    const scan = scanResults(resultsDir);
    expect(scan.bad).toEqual([]);
    expect(scan.results.size).toBeLessThan(160);
  }, 180_000);
});
