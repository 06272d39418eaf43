import { createHash } from 'node:crypto';
import type { RedisClient } from './connection';
import { redisErrorCode } from './connection';

/**
 * A Lua script called by its SHA1 (`EVALSHA`), its source sent only when the server does not have it
 * yet (`NOSCRIPT`: a new or restarted server, or another node of a cluster). `EVAL` sends the whole
 * source on every call and makes Redis hash it to find the compiled script: for the scripts run once
 * per job, that was a measurable part of their cost (scripts/redis-cost.js).
 */
export class LuaScript {
  /** The SHA1 Redis caches the script under. */
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script with `keys` (all in one slot on a cluster) and `args`. */
  async run(redis: RedisClient, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (redisErrorCode(err) !== 'NOSCRIPT') throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
