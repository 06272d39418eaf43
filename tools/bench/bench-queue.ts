import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { EnqueueReport, enqueueRun } from '../../src/producer/enqueue-run';
import type { SourceKey } from '../../src/producer/key-sources';
import { createRedis } from '../../src/queue/connection';
import { RunStatus, RunStore, isRunFinished } from '../../src/queue/run-store';
import { uniqueQueue } from '../harness/redis';

/** BullMQ key prefix of every benchmark queue. */
const PREFIX = 'bull';

/** A fresh queue name for one measurement (`bench-<label>-<random>`). */
export function benchQueueName(label: string): string {
  return uniqueQueue(`bench-${label}`);
}

/** A queue of the benchmark's private Redis with its producer-side handles. */
export class BenchQueue {
  readonly redis: Redis;
  readonly queue: Queue;
  readonly runs: RunStore;

  /** Opens a connection and the queue `name` under the `bull` prefix. */
  constructor(
    redisUrl: string,
    readonly name: string,
  ) {
    this.redis = createRedis(redisUrl);
    this.queue = new Queue(name, { connection: this.redis, prefix: PREFIX });
    this.runs = new RunStore(this.redis, { queue: name, prefix: PREFIX });
  }

  /**
   * Enqueues `sources` as run `runId` with results under `results`, as `facefleet enqueue` does (the
   * backlog bound is lifted: nothing here needs to wait for workers). `onProgress` sees the running count.
   */
  enqueue(runId: string, sources: AsyncIterable<SourceKey>, results: string, model: string, onProgress?: (enqueued: number) => void): Promise<EnqueueReport> {
    return enqueueRun(this.queue, this.redis, this.runs, sources, { runId, results, model, maxBacklog: Number.MAX_SAFE_INTEGER, onProgress });
  }

  /**
   * Polls the run record every `pollMs` until the run is finished, `stop()` says to give up, or
   * `timeoutMs` passes (an error naming the counts). `onPoll` sees every reading.
   */
  async waitForRun(runId: string, options: { pollMs?: number; timeoutMs?: number; onPoll?: (s: RunStatus) => void; stop?: () => boolean } = {}): Promise<RunStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600_000);
    for (;;) {
      const s = await this.runs.get(runId);
      if (s) options.onPoll?.(s);
      if (s && (isRunFinished(s) || options.stop?.())) return s;
      if (Date.now() > deadline) throw new Error(`benchmark run ${runId} not finished after ${options.timeoutMs} ms: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, options.pollMs ?? 20));
    }
  }

  /** Removes the queue's keys and closes the connection. */
  async close(): Promise<void> {
    try {
      await this.queue.obliterate({ force: true });
    } finally {
      await this.queue.close();
      await this.redis.quit().catch(() => this.redis.disconnect());
    }
  }
}

/** `file://<dir>/<key>` sources for keys under a folder, as an async stream. */
export async function* fileSources(dir: string, keys: readonly string[]): AsyncGenerator<SourceKey> {
  for (const key of keys) yield { source: `file://${dir}/${key}`, key };
}
