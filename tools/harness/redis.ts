import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { FacefleetError } from '../../src/errors';
import { hasRedisServer, PrivateRedis, PrivateRedisOptions, startPrivateRedis } from '../../src/queue/private-redis';
import { sleep } from './poll';

export type { PrivateRedis };

/**
 * Starts a real redis-server on a free loopback port, in a temp folder removed on `stop()`: the
 * launcher of the demo's private Redis (`src/queue/private-redis.ts`), the one every Redis here builds on.
 */
export function startRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  return startPrivateRedis(options);
}

/** A queue name no other test or scenario uses: `<label>-<random>`. */
export function uniqueQueue(label = 'test'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** Options of a {@link RedisServer}. */
export interface RedisServerOptions {
  /** Data directory (AOF, log); kept across restarts, never removed here. */
  dir: string;
  /** `requirepass`; the URL carries it. */
  password: string;
  /** `appendonly yes` with `appendfsync everysec`. @defaultValue true */
  aof?: boolean;
  /** Extra `redis-server` arguments (a TLS port and its certificates, say). */
  args?: string[];
}

/**
 * A password-protected `redis-server` that can be stopped and started again on the same loopback port
 * and data directory, as an operator restarting Redis would: AOF `everysec` (the README's production
 * advice), `noeviction`. Unlike {@link startRedis}'s it survives `stop()`: `start()` brings the same
 * data back from the AOF. Used by the chaos suite and by the tests of authentication.
 */
export class RedisServer {
  private server: PrivateRedis | undefined;
  private pid = 0;
  private portValue = 0;

  constructor(private readonly options: RedisServerOptions) {}

  /** Data directory (AOF and log). */
  get dir(): string {
    return this.options.dir;
  }

  /** Loopback port (fixed after the first start). */
  get port(): number {
    return this.portValue;
  }

  /** `redis://:<password>@127.0.0.1:<port>`. */
  get url(): string {
    return `redis://:${encodeURIComponent(this.options.password)}@127.0.0.1:${this.portValue}`;
  }

  /** True while the server process runs. */
  get running(): boolean {
    return this.server !== undefined;
  }

  /** Starts the server (first call: on a free port; later calls: on the same port and directory). */
  async start(): Promise<void> {
    if (this.server) return;
    if (!hasRedisServer()) throw new FacefleetError('E_DEPENDENCY', 'redis-server is not on PATH (Debian/Ubuntu: sudo apt-get install redis-server)');
    fs.mkdirSync(this.options.dir, { recursive: true });
    const fresh = this.portValue === 0;
    for (let attempt = 0; ; attempt++) {
      try {
        this.server = await startPrivateRedis({ port: this.portValue, dir: this.options.dir, aof: this.options.aof !== false, args: this.options.args });
        break;
      } catch (err) {
        // A restart must keep its port (clients reconnect to it), which the old process may hold for a
        // moment; a first start tries three free ports.
        if (attempt >= (fresh ? 2 : 20)) throw err;
        if (!fresh) await sleep(250);
      }
    }
    this.portValue = this.server.port;
    await this.protect();
  }

  /** Stops the server: SIGTERM (Redis writes and fsyncs its AOF on the way out), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await server.stop();
  }

  /** SIGKILLs the server at once (synchronous, for process exit). */
  killNow(): void {
    if (!this.server || this.pid <= 0) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /** Stops, then starts again on the same port and directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /**
   * Sets the password once the server answers, so it is never on a command line (`ps` shows those) nor
   * in a file the chaos suite's credential scan reads; notes the server's pid for {@link killNow}.
   */
  private async protect(): Promise<void> {
    const client = new Redis({ host: '127.0.0.1', port: this.portValue, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      this.pid = Number(/^process_id:(\d+)/m.exec(await client.info('server'))?.[1] ?? 0);
      await client.config('SET', 'requirepass', this.options.password);
    } finally {
      client.disconnect();
    }
  }
}
