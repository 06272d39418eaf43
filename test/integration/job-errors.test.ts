import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { FacefleetError, parseReason } from '../../src/errors';
import { createRedis } from '../../src/queue/connection';
import { JOB_NAME, jobIdFor } from '../../src/queue/job-data';
import { RunStore } from '../../src/queue/run-store';
import { captureLog } from '../support/log-capture';
import { FleetWorker } from '../../src/worker/fleet-worker';
import type { JobProcessor } from '../../src/worker/job-processor';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { pollUntil } from '../../tools/harness/poll';

/**
 * How a job's error decides what happens next, against a real Redis and BullMQ: an error nothing
 * classified (a bug) fails the job at once as `E_INTERNAL`, with attempts left, logged with its stack;
 * a transient one goes round its attempts.
 */
describe('job errors', () => {
  let redis: PrivateRedis;
  let conn: Redis;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await conn?.quit().catch(() => conn.disconnect());
    await redis?.stop();
  });

  /** A worker on a fresh queue whose processor throws `thrown`; returns the queue, its run and the log lines. */
  async function workerThatThrows(thrown: () => unknown) {
    const name = uniqueQueue('errors');
    const target = { queue: name, prefix: 'bull' };
    const queue = new Queue(name, { connection: conn, prefix: 'bull' });
    closers.push(() => queue.close());
    const { log, lines } = captureLog();
    const processor = { model: { id: 'blazeface', version: 'test' }, process: async () => Promise.reject(thrown()) } as unknown as JobProcessor;
    const fleet = new FleetWorker(processor, conn, { target, concurrency: 1, lockDurationMs: 10_000 }, log);
    closers.push(() => fleet.close());
    const runs = new RunStore(conn, target);
    const runId = `${name}-run`;
    await runs.create(runId, { results: 'file:///tmp/none', model: 'blazeface' });
    const source = 'file:///tmp/none/a.jpg';
    await queue.add(JOB_NAME, { v: 1, source, results: 'file:///tmp/none', runId, model: 'blazeface' }, { jobId: jobIdFor(source, 'blazeface', runId), attempts: 3, backoff: { type: 'fixed', delay: 50 }, removeOnFail: false });
    const failed = await pollUntil('the job failed for good', async () => (await queue.getFailed(0, -1))[0], 30_000);
    return { failed, status: await runs.get(runId), lines };
  }

  it('fails a job whose processor throws an unclassified error once, as E_INTERNAL, logged at error with its stack', async () => {
    const { failed, status, lines } = await workerThatThrows(() => new TypeError("Cannot read properties of undefined (reading 'faces')"));
    expect(failed.attemptsMade).toBe(1);
    expect(parseReason(failed.failedReason)).toEqual({ code: 'E_INTERNAL', message: "Cannot read properties of undefined (reading 'faces')", coded: true });
    expect(status).toMatchObject({ failed: 1, failures: { E_INTERNAL: 1 } });
    const logged = lines.filter((l) => l.msg === 'job failed');
    expect(logged).toEqual([expect.objectContaining({ level: 50, code: 'E_INTERNAL', final: true, err: expect.objectContaining({ type: 'TypeError', stack: expect.stringMatching(/TypeError: Cannot read properties.*\n\s+at /) }) })]);
  });

  it('retries a transient error through all its attempts', async () => {
    const { failed, status, lines } = await workerThatThrows(() => new FacefleetError('E_INFERENCE', 'inference thread exited (code 1)'));
    expect(failed.attemptsMade).toBe(3);
    expect(parseReason(failed.failedReason)).toMatchObject({ code: 'E_INFERENCE', coded: true });
    expect(status).toMatchObject({ failed: 1, failures: { E_INFERENCE: 1 } });
    expect(lines.filter((l) => l.msg === 'job failed').map((l) => [l.level, l.final])).toEqual([[40, false], [40, false], [40, true]]);
  });
});
