import { Queue } from 'bullmq';
import { closeRedis, connectRedis, QueueTarget, RedisClient, RedisTarget } from './connection';
import { RunStore, RunStoreOptions } from './run-store';
import { checkShardCount, Shard, shardsOf } from './shards';

/** What a command names its queue with: its Redis, the queue, its prefix and its shards. */
export interface QueueSettings extends RedisTarget {
  queue: QueueTarget['queue'];
  redisPrefix: QueueTarget['prefix'];
  /** BullMQ queues the queue is split into. @defaultValue 1 */
  shards?: number;
}

/** A command's handles on a queue: the connection, one BullMQ queue per shard, and the run records. */
export interface QueueHandles {
  redis: RedisClient;
  /** The shards, in order. */
  shards: Shard[];
  /** The BullMQ queue of each shard, in order (empty when opened `withQueues: false`). */
  queues: Queue[];
  runs: RunStore;
  /** Closes the queues and the connection; errors are not thrown. */
  close(): Promise<void>;
}

/** Options of {@link connectQueue}. */
export interface ConnectQueueOptions {
  /** Called with each Redis error that is retried (credentials already scrubbed). */
  onError?: (err: Error) => void;
  /** Record the shard count when none is (see `checkShardCount`); off for commands that only read. @defaultValue true */
  claim?: boolean;
  /** The shards option as messages name it, with its source (`fieldLabel(config, 'shards')`). @defaultValue `shards` */
  field?: string;
  /** Settings of the run records this process creates. */
  runs?: RunStoreOptions;
  /** Open a BullMQ queue per shard. @defaultValue true */
  withQueues?: boolean;
}

/**
 * Connects a command that runs once and exits to its queue: waits for Redis (a refused password is
 * `E_CONFIG` at once), checks the queue's recorded shard count against `shards` (`E_CONFIG` when they
 * differ), then opens the BullMQ queue of every shard and the run store over all of them. A failure
 * closes what was opened.
 */
export async function connectQueue(settings: QueueSettings, options: ConnectQueueOptions = {}): Promise<QueueHandles> {
  const redis = await connectRedis(settings.redisUrl, { onError: options.onError, cluster: settings.redisCluster ?? false });
  // After the connection is up, later errors (a restart) are retried by ioredis; say why without the
  // error whole (the queues relay their connection's errors, so only without queues).
  if (options.onError && options.withQueues === false) redis.on('error', options.onError);
  const target = { queue: settings.queue, prefix: settings.redisPrefix, shards: settings.shards ?? 1 };
  try {
    await checkShardCount(redis, target, { claim: options.claim, field: options.field });
  } catch (err) {
    await closeRedis(redis);
    throw err;
  }
  const shards = shardsOf(target);
  const queues =
    options.withQueues === false
      ? []
      : shards.map((shard) => {
          const queue = new Queue(shard.queue, { connection: redis, prefix: shard.prefix });
          // Without a listener BullMQ prints connection errors with console.error.
          queue.on('error', (err: Error) => options.onError?.(err));
          return queue;
        });
  return {
    redis,
    shards,
    queues,
    runs: new RunStore(redis, target, options.runs),
    async close() {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
      await closeRedis(redis);
    },
  };
}
