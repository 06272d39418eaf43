import IORedis, { Cluster, ClusterOptions, Redis, RedisOptions, ReplyError } from 'ioredis';
import { FacefleetError } from '../errors';
import { safeRedisUrl } from '../telemetry/logger';

/** A connection to the queue's Redis: one server, or a Redis Cluster (`--redis-cluster`). */
export type RedisClient = Redis | Cluster;

/** Where the queue lives: the Redis URL, the queue name and BullMQ's key prefix. */
export interface QueueTarget {
  /** Redis URL, e.g. `redis://127.0.0.1:6379/0`. */
  redisUrl: string;
  /** Queue name. @defaultValue `facefleet` */
  queue: string;
  /** BullMQ key prefix; a hash tag such as `{facefleet}` keeps every key in one Redis Cluster slot. @defaultValue `bull` */
  prefix: string;
}

/** How to reach Redis: a URL, and whether its host is a seed node of a Redis Cluster. */
export interface RedisTarget {
  /** Redis URL; with `redisCluster`, the seed node and the credentials of every node. */
  redisUrl: string;
  /** Treat the URL's host as a seed node of a Redis Cluster. @defaultValue false */
  redisCluster?: boolean;
}

/** Reconnect delays, ms: doubling from 400 ms, at most 5 s, forever. */
const backoff = (times: number) => Math.min(200 * 2 ** Math.min(times, 5), 5000);

/**
 * Opens an ioredis connection suitable for BullMQ: `maxRetriesPerRequest: null` so blocking commands
 * survive reconnects, and a capped reconnect backoff so a Redis restart is ridden out.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  const client = new IORedis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: backoff,
    ...extra,
  });
  // First listener: every later one (BullMQ's, which may print the error whole) sees it scrubbed.
  client.on('error', scrubRedisError);
  return client;
}

/**
 * Opens an ioredis Cluster client for BullMQ from a URL naming one seed node: the other nodes are
 * discovered from it. The URL's user and password (and `rediss://` for TLS) apply to every node; a
 * database other than 0 is refused, as Redis Cluster has only database 0. Node connections get
 * `maxRetriesPerRequest: null` and reconnect with a capped backoff, so a master restarted on its
 * address is ridden out (commands to its slots wait, the other masters keep working).
 *
 * @throws FacefleetError `E_CONFIG` for a URL that is not a seed node (no host, or a database other than 0).
 */
export function createRedisCluster(url: string, extra: RedisOptions = {}, clusterOptions: ClusterOptions = {}): Cluster {
  const u = parseRedisUrl(url);
  const db = u.pathname.replace(/^\/+/, '');
  if (db !== '' && db !== '0') throw new FacefleetError('E_CONFIG', `redisUrl: Redis Cluster has only database 0; given database ${JSON.stringify(db.slice(0, 20))} in ${safeRedisUrl(url)}`);
  const redisOptions: NonNullable<ClusterOptions['redisOptions']> = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    ...extra,
  };
  const client = new Cluster([{ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) }], {
    redisOptions,
    clusterRetryStrategy: backoff,
    clusterNodeRetryStrategy: backoff,
    enableReadyCheck: true,
    // With TLS the certificate names the host the seed was given by, not the addresses nodes announce.
    ...(u.protocol === 'rediss:' ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
    ...clusterOptions,
  });
  client.on('error', scrubRedisError);
  return client;
}

/** Opens the queue's Redis: a {@link createRedisCluster} client with `redisCluster`, else {@link createRedis}. */
export function openRedis(target: RedisTarget): RedisClient {
  return target.redisCluster ? createRedisCluster(target.redisUrl) : createRedis(target.redisUrl);
}

function parseRedisUrl(url: string): URL {
  try {
    const u = new URL(url);
    if (!u.hostname) throw new Error('no host');
    return u;
  } catch {
    throw new FacefleetError('E_CONFIG', `redisUrl: expected redis://[user:password@]host:port of a seed node; given ${safeRedisUrl(url)}`);
  }
}

/**
 * Closes a connection for good: QUIT when it is ready (replies in flight still arrive), a plain
 * disconnect otherwise, since with `maxRetriesPerRequest: null` a QUIT queued on a connection that never
 * comes up would wait for it forever.
 */
export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/** Options of {@link connectRedis}. */
export interface ConnectOptions {
  /** Called with each error that is retried (already scrubbed of credentials). */
  onError?: (err: Error) => void;
  /** Extra ioredis options (of every node, with `cluster`). */
  extra?: RedisOptions;
  /** Treat the URL's host as a seed node of a Redis Cluster. @defaultValue false */
  cluster?: boolean;
}

/** Redis error codes that mean the credentials are wrong or missing: retrying cannot help. */
const AUTH_ERROR_CODES = new Set(['WRONGPASS', 'NOAUTH']);

/**
 * Opens a connection as {@link createRedis} does and resolves once Redis is ready, for commands that
 * run once and exit. A refused password ends it at the first reply, with `E_CONFIG`, instead of the
 * reconnect loop a long-running worker rides out; an unreachable Redis is still retried, each failure
 * reported through `onError` (already scrubbed of credentials).
 *
 * @param url - Redis URL (a password in it is never repeated in a message); with `cluster`, a seed node.
 * @param options - `onError` for errors that are retried; `extra` ioredis options; `cluster`.
 * @throws FacefleetError `E_CONFIG` when Redis refuses the credentials (`WRONGPASS`, `NOAUTH`).
 */
export function connectRedis(url: string, options?: ConnectOptions & { cluster?: false }): Promise<Redis>;
export function connectRedis(url: string, options: ConnectOptions & { cluster?: boolean }): Promise<RedisClient>;
export function connectRedis(url: string, options: ConnectOptions & { cluster?: boolean } = {}): Promise<RedisClient> {
  const client: RedisClient = options.cluster ? createRedisCluster(url, options.extra) : createRedis(url, options.extra);
  return new Promise<RedisClient>((resolve, reject) => {
    const onReady = () => {
      client.off('error', onError);
      resolve(client);
    };
    const onError = (err: Error) => {
      // A cluster reports a node's refusal inside the error of its failed slot refresh.
      const code = redisErrorCode(err) ?? redisErrorCode((err as { lastNodeError?: unknown }).lastNodeError);
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
