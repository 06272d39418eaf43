import { randomBytes } from 'node:crypto';
import { PrivateRedis, startPrivateRedis } from '../../src/queue/private-redis';

export type { PrivateRedis };

/** Starts a real redis-server on a free loopback port for one test file. */
export function startRedis(options: { aof?: boolean } = {}): Promise<PrivateRedis> {
  return startPrivateRedis(options);
}

/** A queue name no other test uses. */
export function uniqueQueue(label = 'test'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}
