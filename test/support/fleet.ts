import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { parseReason } from '../../src/errors';
import { createRedis } from '../../src/queue/connection';
import { RunStatus, RunStore, isRunFinished } from '../../src/queue/run-store';
import { createLogger } from '../../src/telemetry/logger';
import { RunningWorker, startWorker } from '../../src/worker/start-worker';
import { testFileRootsFlag } from './test-roots';

/** Polls a run record until every enqueued job of the sealed run has an outcome; throws with its last state after `timeoutMs`. */
export async function waitForRun(runs: Pick<RunStore, 'get'>, runId: string, timeoutMs = 120_000, intervalMs = 100): Promise<RunStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await runs.get(runId);
    if (s && isRunFinished(s)) return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not finished after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A queue with its producer-side handles and an in-process worker, for integration tests. */
export interface TestFleet {
  queueName: string;
  redis: Redis;
  queue: Queue;
  runs: RunStore;
  worker?: RunningWorker;
  startWorker(flags?: Record<string, unknown>): Promise<RunningWorker>;
  waitForRun(runId: string, timeoutMs?: number): Promise<RunStatus>;
  failedCodes(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** Opens producer handles on `queueName` and can start an in-process worker on it. */
export function openFleet(redisUrl: string, queueName: string, redisPrefix = 'bull'): TestFleet {
  const redis = createRedis(redisUrl);
  const queue = new Queue(queueName, { connection: redis, prefix: redisPrefix });
  const runs = new RunStore(redis, { queue: queueName, prefix: redisPrefix });
  const fleet: TestFleet = {
    queueName,
    redis,
    queue,
    runs,
    async startWorker(flags = {}) {
      const config = loadWorkerConfig({ redisUrl, queue: queueName, redisPrefix, metricsPort: 0, fileRoots: testFileRootsFlag(), ...flags }, {});
      fleet.worker = await startWorker(config, createLogger({ level: 'silent' }), { handleSignals: false });
      return fleet.worker;
    },
    waitForRun(runId, timeoutMs) {
      return waitForRun(runs, runId, timeoutMs);
    },
    async failedCodes() {
      const failed = await queue.getFailed(0, -1);
      return Object.fromEntries(failed.map((j) => [String(j.data.key), parseReason(j.failedReason).code]));
    },
    async close() {
      await fleet.worker?.lifecycle.close();
      await queue.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  return fleet;
}
