import IORedis, { Redis, RedisOptions } from 'ioredis';

/** Where the queue lives: the Redis URL, the queue name and BullMQ's key prefix. */
export interface QueueTarget {
  /** Redis URL, e.g. `redis://127.0.0.1:6379/0`. */
  redisUrl: string;
  /** Queue name. @defaultValue `facefleet` */
  queue: string;
  /** BullMQ key prefix; a hash tag such as `{facefleet}` keeps every key in one Redis Cluster slot. @defaultValue `bull` */
  prefix: string;
}

/**
 * Opens an ioredis connection suitable for BullMQ: `maxRetriesPerRequest: null` so blocking commands
 * survive reconnects, and a capped reconnect backoff so a Redis restart is ridden out.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new IORedis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 5), 5000),
    ...extra,
  });
}

/** The Redis key of a run record, under the queue's prefix so it shares the cluster slot. */
export function runKey(target: Pick<QueueTarget, 'queue' | 'prefix'>, runId: string): string {
  return `${target.prefix}:${target.queue}:facefleet:run:${runId}`;
}

/** The Redis sorted set indexing runs by creation time. */
export function runIndexKey(target: Pick<QueueTarget, 'queue' | 'prefix'>): string {
  return `${target.prefix}:${target.queue}:facefleet:runs`;
}
