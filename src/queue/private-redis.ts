import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FacefleetError } from '../errors';
import { freePort } from '../lifecycle/free-port';

/** A `redis-server` started for this process alone. */
export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** Options of {@link startPrivateRedis}. */
export interface PrivateRedisOptions {
  /** Port; 0 picks a free loopback port. @defaultValue 0 */
  port?: number;
  /** Data directory; a new temp dir by default (removed on stop). */
  dir?: string;
  /** `appendonly yes` with `appendfsync everysec`, as production should run. @defaultValue false */
  aof?: boolean;
  /** Extra `redis-server` arguments. */
  args?: string[];
}

/** True when `redis-server` is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts `redis-server` from PATH on a loopback port in a temp dir (no RDB snapshots; AOF when asked),
 * and waits until it answers. A missing binary is a clear error telling how to install it.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  if (!hasRedisServer()) {
    throw new FacefleetError('E_DEPENDENCY', 'redis-server is not on PATH. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to an existing Redis.');
  }
  const port = options.port || (await freePort());
  const ownDir = !options.dir;
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-redis-'));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no',
    '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes', '--logfile', path.join(dir, 'redis.log'),
    ...(options.aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']),
    ...(options.args ?? []),
  ];
  const child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new FacefleetError('E_DEPENDENCY', `redis-server did not start on port ${port} (log: ${path.join(dir, 'redis.log')})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000).unref())]);
        if (!exited) child.kill('SIGKILL');
      }
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setTimeout(500);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')); });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => { sock.destroy(); resolve(false); });
  });
}
