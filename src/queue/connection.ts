import IORedis, { Redis, RedisOptions, ReplyError } from 'ioredis';
import { FacefleetError } from '../errors';
import { safeRedisUrl } from '../telemetry/logger';

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
  const client = new IORedis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 5), 5000),
    ...extra,
  });
  // First listener: every later one (BullMQ's, which may print the error whole) sees it scrubbed.
  client.on('error', scrubRedisError);
  return client;
}

/**
 * Closes a connection for good: QUIT when it is ready (replies in flight still arrive), a plain
 * disconnect otherwise, since with `maxRetriesPerRequest: null` a QUIT queued on a connection that never
 * comes up would wait for it forever.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/** Redis error codes that mean the credentials are wrong or missing: retrying cannot help. */
const AUTH_ERROR_CODES = new Set(['WRONGPASS', 'NOAUTH']);

/**
 * Opens a connection as {@link createRedis} does and resolves once Redis is ready, for commands that
 * run once and exit. A refused password ends it at the first reply, with `E_CONFIG`, instead of the
 * reconnect loop a long-running worker rides out; an unreachable Redis is still retried, each failure
 * reported through `onError` (already scrubbed of credentials).
 *
 * @param url - Redis URL (a password in it is never repeated in a message).
 * @param options - `onError` for errors that are retried; `extra` ioredis options.
 * @throws FacefleetError `E_CONFIG` when Redis refuses the credentials (`WRONGPASS`, `NOAUTH`).
 */
export function connectRedis(url: string, options: { onError?: (err: Error) => void; extra?: RedisOptions } = {}): Promise<Redis> {
  const client = createRedis(url, options.extra);
  return new Promise<Redis>((resolve, reject) => {
    const onReady = () => {
      client.off('error', onError);
      resolve(client);
    };
    const onError = (err: Error) => {
      const code = redisErrorCode(err);
      if (code === undefined || !AUTH_ERROR_CODES.has(code)) {
        options.onError?.(err);
        return;
      }
      client.off('ready', onReady);
      client.off('error', onError);
      // Later errors of the closing client have been answered already.
      client.on('error', () => undefined);
      client.disconnect();
      reject(new FacefleetError('E_CONFIG', `Redis at ${safeRedisUrl(url)} refused the credentials (${code}): check the password in REDIS_URL / --redis-url`, { cause: err }));
    };
    client.once('ready', onReady);
    client.on('error', onError);
  });
}

/**
 * The error code of a Redis error reply: its first word (`WRONGPASS`, `NOAUTH`, `ERR`, …), which is how
 * the Redis protocol codes errors; `undefined` for anything that is not a reply error.
 */
export function redisErrorCode(err: unknown): string | undefined {
  if (!(err instanceof ReplyError)) return undefined;
  return /^[A-Z][A-Z_]*(?= |$)/.exec((err as Error).message)?.[0];
}

/**
 * Removes credentials from an ioredis error in place: ioredis attaches the failed command to its reply
 * errors, and a refused `AUTH` or `HELLO … AUTH user password` carries the password in its arguments.
 * Returns the same error.
 */
export function scrubRedisError<T>(err: T): T {
  const command = (err as { command?: { name?: unknown; args?: unknown[] } } | undefined)?.command;
  if (!command || !Array.isArray(command.args)) return err;
  const name = String(command.name).toLowerCase();
  if (name === 'auth') command.args = command.args.map(() => '***');
  else if (name === 'hello') {
    const at = command.args.findIndex((a) => String(a).toUpperCase() === 'AUTH');
    if (at !== -1) command.args = command.args.map((a, i) => (i > at ? '***' : a));
  }
  return err;
}

/** The Redis key of a run record, under the queue's prefix so it shares the cluster slot. */
export function runKey(target: Pick<QueueTarget, 'queue' | 'prefix'>, runId: string): string {
  return `${target.prefix}:${target.queue}:facefleet:run:${runId}`;
}

/** The Redis sorted set indexing runs by creation time. */
export function runIndexKey(target: Pick<QueueTarget, 'queue' | 'prefix'>): string {
  return `${target.prefix}:${target.queue}:facefleet:runs`;
}
