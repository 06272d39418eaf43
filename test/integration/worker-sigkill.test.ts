import { Queue } from 'bullmq';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { RunStore } from '../../src/queue/run-store';
import { uniqueQueue } from '../../tools/harness/redis';
import { pollUntil } from '../../tools/harness/poll';
import { copyPhotos, countJsonFiles, scanResults } from '../support/photo-runs';
import { redisSuite } from '../support/redis-suite';

/** `.<name>.<12 hex>.tmp` → `<name>`: the result file an interrupted write was producing. */
function targetOfTemp(temp: string): string {
  return path.join(path.dirname(temp), path.basename(temp).replace(/^\.(.+)\.[0-9a-f]{12}\.tmp$/, '$1'));
}

/**
 * Crash safety with real processes: a worker SIGKILLed in the middle of a run loses no image and
 * leaves no corrupt or partial result; its jobs return to the queue once their locks expire and a
 * second worker finishes the run, each key ending with exactly one valid result.
 */
describe('worker killed with SIGKILL mid-run', () => {
  const suite = redisSuite('ff-sigkill-');
  const { procs, stores } = suite;
  const queueName = uniqueQueue('sigkill');
  let queue: Queue;
  let runs: RunStore;

  beforeAll(async () => {
    queue = new Queue(queueName, { connection: suite.conn, prefix: 'bull' });
    runs = new RunStore(suite.conn, { queue: queueName, prefix: 'bull' });
    suite.onClose(() => queue.close());
  });

  it('requeues the jobs of the dead worker; a second worker finishes with exactly one valid result per key', async () => {
    const photos = copyPhotos(path.join(suite.tmp, 'photos'), 64);
    const resultsDir = path.join(suite.tmp, 'results');
    const runId = 'sigkill-run';
    const report = await enqueueRun(queue, suite.conn, runs, fromPrefix(stores, `file://${suite.tmp}/photos/`), { runId, results: `file://${resultsDir}`, model: 'retinaface' });
    expect(report.enqueued).toBe(photos.length);
    expect(photos.length).toBeGreaterThanOrEqual(60);

    // A 5 s lock and a 2 s stalled check bring the dead worker's jobs back within seconds, not minutes.
    const flags = ['--batch', '4', '--lock-duration-ms', '5000', '--stalled-interval-ms', '2000'];
    const a = procs.spawnWorker(suite.redis.url, queueName, [...flags, '--worker-id', 'worker-a']);
    await a.waitForStart();
    await pollUntil('5 results from worker A', () => (countJsonFiles(resultsDir) >= 5 ? true : undefined), 90_000, 10);
    a.signal('SIGKILL');
    expect(await a.waitForExit(10_000)).toEqual({ code: null, signal: 'SIGKILL' });

    // What the crash left behind: jobs active under worker A's expiring locks, and any write in progress.
    const heldByA = (await queue.getJobs(['active'])).map((j) => j.id as string);
    const tempsOfA = scanResults(resultsDir).temps;
    // The scenario itself: the kill must have interrupted jobs in hand, or nothing is being tested.
    expect(heldByA.length).toBeGreaterThan(0);

    const b = procs.spawnWorker(suite.redis.url, queueName, [...flags, '--worker-id', 'worker-b']);
    await b.waitForStart();
    const counts = await pollUntil(
      'every job completed or failed',
      async () => {
        const c = await queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized');
        return c.completed + c.failed >= photos.length ? c : undefined;
      },
      120_000,
      200,
    );
    b.signal('SIGTERM');
    expect(await b.waitForExit(30_000)).toEqual({ code: 0, signal: null });

    expect(counts).toEqual({ completed: photos.length, failed: 0, active: 0, waiting: 0, delayed: 0, prioritized: 0 });
    for (const id of heldByA) expect(await queue.getJobState(id)).toBe('completed');

    // A job executed twice (result written, then killed before completion) counts twice: done ≥ total.
    const run = await runs.get(runId);
    expect(run).toMatchObject({ total: photos.length, sealed: true, failed: 0, failures: {} });
    expect(run!.done).toBeGreaterThanOrEqual(photos.length);

    const scan = scanResults(resultsDir);
    expect(scan.bad).toEqual([]);
    expect(scan.other).toEqual([]);
    expect([...scan.results.keys()].sort()).toEqual(photos.map((p) => p.key).sort());
    for (const p of photos) {
      const result = scan.results.get(p.key)!;
      expect(result).toMatchObject({ key: p.key, runId, source: { url: `file://${p.path}` }, model: { id: 'retinaface' } });
      expect(['worker-a', 'worker-b']).toContain(result.worker);
    }
    expect([...scan.results.values()].some((r) => r.worker === 'worker-b')).toBe(true);
    // Worker B stopped cleanly, so it left no temporary file; the only ones allowed are writes worker A
    // was in the middle of when killed, and each of those keys still got its complete result.
    for (const t of scan.temps) {
      expect(tempsOfA).toContain(t);
      expect(scan.results.has(targetOfTemp(t).replace(/\.json$/, ''))).toBe(true);
    }
  }, 180_000);
});
