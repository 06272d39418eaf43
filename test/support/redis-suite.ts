import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/queue/connection';
import { StoreRegistry } from '../../src/storage/store-registry';
import { PrivateRedis, startRedis } from '../../tools/harness/redis';
import { ProcessGroup } from './process-group';

/**
 * What the tests of one suite share, started before them and removed after them: a private
 * redis-server, one connection to it, a temp folder, the facefleet processes they spawn and the stores
 * they open. Filled in by the suite's `beforeAll`: read the fields inside tests and hooks only.
 */
export interface RedisSuite {
  redis: PrivateRedis;
  conn: Redis;
  tmp: string;
  readonly procs: ProcessGroup;
  readonly stores: StoreRegistry;
  /** Runs `close` at the end of the suite, after the processes are killed and before Redis stops. */
  onClose(close: () => Promise<unknown>): void;
}

/**
 * Registers the suite's `beforeAll` and `afterAll` for a {@link RedisSuite}, with its temp folder named
 * `<tmpPrefix>XXXXXX`. The end kills every spawned process, runs the `onClose` closers (last
 * registered first), closes the connection and the stores, stops Redis and removes the folder.
 */
export function redisSuite(tmpPrefix: string): RedisSuite {
  const closers: Array<() => Promise<unknown>> = [];
  const suite = {
    procs: new ProcessGroup(),
    stores: new StoreRegistry(),
    onClose: (close: () => Promise<unknown>) => void closers.push(close),
  } as RedisSuite;
  beforeAll(async () => {
    suite.redis = await startRedis();
    suite.conn = createRedis(suite.redis.url);
    suite.tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  });
  afterAll(async () => {
    await suite.procs.killAll();
    for (const close of closers.reverse()) await close();
    await suite.conn?.quit().catch(() => suite.conn.disconnect());
    await suite.stores.closeAll();
    await suite.redis?.stop();
    if (suite.tmp) fs.rmSync(suite.tmp, { recursive: true, force: true });
  });
  return suite;
}
