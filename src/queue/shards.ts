import crypto from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { FacefleetError } from '../errors';
import type { QueueTarget } from './connection';

/** Most shards a queue may be split into. */
export const MAX_SHARDS = 1024;

/** A facefleet queue and the number of BullMQ queues it is split into. */
export interface ShardedTarget extends Pick<QueueTarget, 'queue' | 'prefix'> {
  /** BullMQ queues the queue is split into. @defaultValue 1 */
  shards?: number;
}

/** One BullMQ queue of a sharded facefleet queue. */
export interface Shard {
  /** Its index, 0 to shards − 1. */
  index: number;
  /** The BullMQ queue name: the facefleet queue's own with one shard, `{<queue>-<index>}` otherwise. */
  queue: string;
  /** BullMQ key prefix (the facefleet queue's). */
  prefix: string;
}

/**
 * The BullMQ queue name of shard `index` of `queue` split `shards` ways. One shard keeps the queue's
 * own name, so an unsharded queue's keys are what they always were (`bull:facefleet:wait`). Split, each
 * shard's name is its own Redis Cluster hash tag (`{facefleet-0}` … `{facefleet-N-1}`): every key of a
 * shard (`bull:{facefleet-3}:wait`, its jobs, its run records) lives in one slot, and different shards
 * hash to different slots, which a cluster spreads over its masters.
 */
export function shardQueueName(queue: string, index: number, shards: number): string {
  return shards === 1 ? queue : `{${queue}-${index}}`;
}

/** The shards of a target, every one or those listed in `ids` (in the order given). */
export function shardsOf(target: ShardedTarget, ids?: readonly number[]): Shard[] {
  const n = target.shards ?? 1;
  const indexes = ids ?? Array.from({ length: n }, (_, i) => i);
  return indexes.map((index) => ({ index, queue: shardQueueName(target.queue, index, n), prefix: target.prefix }));
}

/**
 * The shard a source goes to: the first 32 bits of `sha256(source)` modulo `shards`. It depends on the
 * source alone, so an image goes to the same shard in every run (a run's duplicate check looks in one
 * shard), and any producer can compute it: Python's
 * `int(hashlib.sha256(source.encode()).hexdigest()[:8], 16) % shards`.
 */
export function shardOf(source: string, shards: number): number {
  if (shards === 1) return 0;
  // Node's one-shot hash where there is one (20.12 and later): half the cost of a Hash object per key.
  const digest = typeof crypto.hash === 'function' ? crypto.hash('sha256', source, 'buffer') : crypto.createHash('sha256').update(source).digest();
  return digest.readUInt32BE(0) % shards;
}

/**
 * Jobs held at once by the BullMQ worker of each of `shards` shards, so that together they hold
 * `concurrency`: an even split, the first ones taking the remainder, at least 1 each.
 */
export function concurrencyPerShard(concurrency: number, shards: number): number[] {
  const base = Math.floor(concurrency / shards);
  const extra = concurrency % shards;
  return Array.from({ length: shards }, (_, i) => Math.max(1, base + (i < extra ? 1 : 0)));
}

/**
 * The key recording how many shards a queue is split into: `<prefix>:<queue>:shards`. It sits outside
 * every shard's slot on purpose: one plain string, read once per process start.
 */
export function shardCountKey(target: Pick<QueueTarget, 'queue' | 'prefix'>): string {
  return `${target.prefix}:${target.queue}:shards`;
}

/** Sets the count when none is recorded and returns what was recorded before (`SET NX GET` needs Redis 7). */
const CLAIM_SHARD_COUNT = "local v = redis.call('get', KEYS[1]) if not v then redis.call('set', KEYS[1], ARGV[1]) end return v";

/** Options of {@link checkShardCount}. */
export interface ShardCheckOptions {
  /**
   * Record the count when none is recorded yet (producers, workers, serve: whoever uses the queue
   * first decides). Off for commands that only read (`runs`, `failed`). @defaultValue true
   */
  claim?: boolean;
  /** The option as messages name it, with where its value came from: `shards (env FACEFLEET_SHARDS)`. @defaultValue `shards` */
  field?: string;
}

/**
 * Makes sure every process of a queue splits it the same way. The first to use the queue records its
 * shard count (`SET … NX`); a process configured with another count is refused with `E_CONFIG` naming
 * both: a producer sending keys to 8 shards while workers take from 4 would leave half the jobs
 * waiting forever. A queue used before shards existed has no record and counts as unsharded once
 * claimed. Resolves with the recorded count (`undefined` when none is recorded and `claim` is off).
 *
 * @throws FacefleetError `E_CONFIG` when the recorded count differs from `shards`.
 */
export async function checkShardCount(redis: Redis | Cluster, target: ShardedTarget, options: ShardCheckOptions = {}): Promise<number | undefined> {
  const shards = target.shards ?? 1;
  const key = shardCountKey(target);
  const recorded = (options.claim === false ? await redis.get(key) : await redis.eval(CLAIM_SHARD_COUNT, 1, key, String(shards))) as string | null;
  if (recorded === null) return options.claim === false ? undefined : shards;
  const count = Number(recorded);
  if (count !== shards) {
    throw new FacefleetError(
      'E_CONFIG',
      `${options.field ?? 'shards'}: queue ${target.queue} is split into ${recorded} shard(s) on this Redis (recorded in ${key} by the first producer or worker), this process was given ${shards}; ` +
        `start it with --shards ${recorded} (FACEFLEET_SHARDS=${recorded}), or drain the queue and delete ${key} to split it another way`,
    );
  }
  return count;
}
