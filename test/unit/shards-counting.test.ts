import type { Queue } from 'bullmq';
import type { JobOutcome, RunStore } from '../../src/queue/run-store';
import { FleetMetrics } from '../../src/telemetry/metrics';
import { combinedSnapshot, QueueMonitor } from '../../src/telemetry/queue-monitor';
import { MAX_OUTCOMES_PER_CALL, OutcomeCounter } from '../../src/worker/outcome-counter';

/** A run store that records the calls `OutcomeCounter` makes, failing when told to. */
function fakeRuns(fail?: Error) {
  const calls: Array<{ runId: string; shard: number; outcomes: JobOutcome[] }> = [];
  const runs = {
    async recordJobs(runId: string, outcomes: readonly JobOutcome[], shard = 0) {
      calls.push({ runId, shard, outcomes: [...outcomes] });
      if (fail) throw fail;
      return outcomes.length;
    },
  } as unknown as RunStore;
  return { runs, calls };
}

const done = (n: number): JobOutcome => ({ jobKey: `bull:q:ff-${n}`, outcome: 'done' });

describe('OutcomeCounter', () => {
  it('counts the outcomes that finish together in one call per run and shard, and resolves each once it is in', async () => {
    const { runs, calls } = fakeRuns();
    const counter = new OutcomeCounter(runs, { windowMs: 20 });
    const counted = [counter.count('r1', 0, done(1)), counter.count('r1', 0, done(2)), counter.count('r1', 1, done(3)), counter.count('r2', 0, { jobKey: 'bull:q:ff-4', outcome: 'failed', code: 'E_DECODE' })];
    expect(calls).toEqual([]);
    await Promise.all(counted);
    expect(calls).toEqual([
      { runId: 'r1', shard: 0, outcomes: [done(1), done(2)] },
      { runId: 'r1', shard: 1, outcomes: [done(3)] },
      { runId: 'r2', shard: 0, outcomes: [{ jobKey: 'bull:q:ff-4', outcome: 'failed', code: 'E_DECODE' }] },
    ]);
  });

  it('sends at once when a call is full, without waiting for the window', async () => {
    const { runs, calls } = fakeRuns();
    const counter = new OutcomeCounter(runs, { windowMs: 60_000 });
    const counted = Array.from({ length: MAX_OUTCOMES_PER_CALL }, (_, i) => counter.count('r1', 0, done(i)));
    await Promise.all(counted);
    expect(calls.map((c) => c.outcomes.length)).toEqual([MAX_OUTCOMES_PER_CALL]);
  });

  it("rejects every outcome of a call that failed with the call's error, so each job is retried", async () => {
    const boom = new Error('E_REDIS: connection lost');
    const { runs } = fakeRuns(boom);
    const counter = new OutcomeCounter(runs, { windowMs: 1 });
    const results = await Promise.allSettled([counter.count('r1', 0, done(1)), counter.count('r1', 0, done(2))]);
    expect(results).toEqual([
      { status: 'rejected', reason: boom },
      { status: 'rejected', reason: boom },
    ]);
  });
});

/** A monitor whose last refresh saw `backlog` jobs, paused or not. */
async function monitorSeeing(backlog: number, paused: boolean, shard: string, metrics: FleetMetrics): Promise<QueueMonitor> {
  const queue = {
    name: `{q-${shard}}`,
    getJobCounts: async () => ({ waiting: backlog, active: 0, delayed: 0, prioritized: 0, failed: 0, completed: 0 }),
    isPaused: async () => paused,
    getWaiting: async () => [],
    getMetrics: async () => ({ meta: { count: 0 }, data: [] }),
  } as unknown as Queue;
  const monitor = new QueueMonitor(queue, metrics, { queueLabel: 'q', shard, now: () => 1000 });
  await monitor.refresh();
  return monitor;
}

describe('the queue gauges of a split queue', () => {
  it('label each shard under the queue name, and add the shards up for liveness', async () => {
    const metrics = new FleetMetrics({ defaultMetrics: false });
    const monitors = [await monitorSeeing(5, false, '0', metrics), await monitorSeeing(9, true, '1', metrics), await monitorSeeing(2, false, '2', metrics)];
    const waiting = (await metrics.registry.getSingleMetric('facefleet_queue_jobs')!.get()).values.filter((v) => v.labels.state === 'waiting');
    expect(waiting.map((v) => [v.labels, v.value])).toEqual([
      [{ queue: 'q', shard: '0', state: 'waiting' }, 5],
      [{ queue: 'q', shard: '1', state: 'waiting' }, 9],
      [{ queue: 'q', shard: '2', state: 'waiting' }, 2],
    ]);
    // A paused shard's jobs are not waiting for these workers.
    expect(combinedSnapshot(monitors)).toEqual({ backlog: 7, paused: false, at: 1000 });
    expect(combinedSnapshot([monitors[1]])).toEqual({ backlog: 9, paused: true, at: 1000 });
  });

  it('carry no shard label for a queue that is not split', async () => {
    const metrics = new FleetMetrics({ defaultMetrics: false });
    metrics.initSeries('q', 'blazeface');
    const labels = (await metrics.registry.getSingleMetric('facefleet_queue_drain_seconds_estimate')!.get()).values.map((v) => v.labels);
    expect(labels).toEqual([{ queue: 'q' }]);
  });
});
