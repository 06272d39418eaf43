import { MetricsTime, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/queue/connection';
import { FleetMetrics } from '../../src/telemetry/metrics';
import { QueueMonitor } from '../../src/telemetry/queue-monitor';
import {  } from '../../tools/harness/prometheus';
import { pollUntil } from '../../tools/harness/poll';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

/** The current value of a gauge series. */
async function gauge(metrics: FleetMetrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values as Array<{ labels: Record<string, string>; value: number }> | undefined)?.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

/**
 * The queue gauges against real BullMQ state: depth by state (a paused queue's jobs reported as
 * waiting and paused), and a drain estimate that keeps working when completed jobs are removed.
 */
describe('QueueMonitor', () => {
  let redis: PrivateRedis;
  let connection: Redis;
  let queue: Queue;
  let worker: Worker | undefined;
  const name = uniqueQueue('monitor');

  beforeAll(async () => {
    redis = await startRedis();
    connection = createRedis(redis.url);
    queue = new Queue(name, { connection });
  });

  afterAll(async () => {
    await worker?.close();
    await queue?.close();
    await connection?.quit();
    await redis?.stop();
  });

  it('estimates the drain time from finished-job counters, not from the capped completed set', async () => {
    let now = Date.now();
    const metrics = new FleetMetrics({ defaultMetrics: false });
    const monitor = new QueueMonitor(queue, metrics, { now: () => now, rateWindowMs: 60_000 });
    await monitor.refresh();
    expect(await gauge(metrics, 'facefleet_queue_drain_seconds_estimate', { queue: name })).toBe(0);

    // Ten jobs finish; the queue keeps only the last completed one.
    await queue.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: 'detect', data: { i }, opts: { removeOnComplete: { count: 1 } } })));
    const workerConnection = connection.duplicate();
    worker = new Worker(name, async () => 'ok', { connection: workerConnection, metrics: { maxDataPoints: MetricsTime.ONE_HOUR } });
    await pollUntil(() => 'ten jobs did not complete', async () => ((await queue.getMetrics('completed', 0, 0)).meta.count === 10 ? true : undefined), 30_000, 500);
    await worker.close();
    await workerConnection.quit();
    worker = undefined;

    // Twenty wait in a paused queue; ten seconds have passed on the monitor's clock.
    await queue.pause();
    await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'detect', data: { i } })));
    now += 10_000;
    await monitor.refresh();

    expect(await gauge(metrics, 'facefleet_queue_jobs', { queue: name, state: 'completed' })).toBe(1);
    expect(await gauge(metrics, 'facefleet_queue_jobs', { queue: name, state: 'waiting' })).toBe(20);
    expect(await gauge(metrics, 'facefleet_queue_jobs', { queue: name, state: 'paused' })).toBe(20);
    // 10 jobs in 10 s: 1 job/s, so 20 waiting jobs drain in 20 s.
    expect(await gauge(metrics, 'facefleet_queue_drain_seconds_estimate', { queue: name })).toBeCloseTo(20, 6);
    expect(monitor.snapshot).toEqual({ backlog: 20, paused: true, at: now });
    // The jobs were added a moment ago on the real clock, ten seconds before the monitor's.
    expect(await gauge(metrics, 'facefleet_queue_oldest_waiting_age_seconds', { queue: name })).toBeGreaterThanOrEqual(9);
    expect(await gauge(metrics, 'facefleet_queue_oldest_waiting_age_seconds', { queue: name })).toBeLessThan(60);

    // Nothing finishes for longer than the window: the estimate says "stalled" (-1).
    now += 120_000;
    await monitor.refresh();
    now += 5_000;
    await monitor.refresh();
    expect(await gauge(metrics, 'facefleet_queue_drain_seconds_estimate', { queue: name })).toBe(-1);

    await queue.resume();
    await monitor.refresh();
    expect(await gauge(metrics, 'facefleet_queue_jobs', { queue: name, state: 'paused' })).toBe(0);
    expect(monitor.snapshot?.paused).toBe(false);
  });
});
