import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FacefleetError } from '../errors';
import { freePort } from '../lifecycle/free-port';
import { hasRedisServer } from '../queue/private-redis';

/** Options of a {@link ChaosRedis}. */
export interface ChaosRedisOptions {
  /** Data directory (AOF, log); kept across restarts, never removed here. */
  dir: string;
  /** `requirepass`; the URL carries it. */
  password: string;
  /** `appendonly yes` with `appendfsync everysec`. @defaultValue true */
  aof?: boolean;
  /** `maxmemory` in MiB (0: none). @defaultValue 0 */
  maxMemoryMb?: number;
}

/**
 * A `redis-server` the chaos suite can stop and start again on the same loopback port and data
 * directory, as an operator restarting Redis would: AOF `everysec` (the README's production advice),
 * `noeviction`, a password. Unlike the demo's private Redis it survives `stop()`: `start()` brings the
 * same data back from the AOF.
 */
export class ChaosRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private portValue = 0;

  constructor(private readonly options: ChaosRedisOptions) {}

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
    return this.child !== undefined;
  }

  /** Starts the server (first call: on a free port; later calls: on the same port and directory). */
  async start(): Promise<void> {
    if (this.child) return;
    if (!hasRedisServer()) throw new FacefleetError('E_DEPENDENCY', 'redis-server is not on PATH (Debian/Ubuntu: sudo apt-get install redis-server)');
    fs.mkdirSync(this.options.dir, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      const fresh = this.portValue === 0;
      const port = fresh ? await freePort() : this.portValue;
      const args = [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', this.options.dir, '--save', '', '--daemonize', 'no',
        '--maxmemory-policy', 'noeviction', '--logfile', path.join(this.options.dir, 'redis.log'),
        ...(this.options.aof === false ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'everysec']),
        ...(this.options.maxMemoryMb ? ['--maxmemory', `${this.options.maxMemoryMb}mb`] : []),
      ];
      // The password goes in through stdin, never the command line (visible in `ps`).
      const child = spawn('redis-server', [...args, '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin?.end(`requirepass "${this.options.password}"\n`);
      let gone = false;
      const exited = new Promise<void>((r) => child.once('exit', () => ((gone = true), r())));
      const deadline = Date.now() + 15_000;
      while (!(await this.answers(port))) {
        if (gone || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (!gone && (await this.answers(port))) {
        this.child = child;
        this.exited = exited;
        this.portValue = port;
        return;
      }
      child.kill('SIGKILL');
      await exited;
      // A restart must keep its port (clients reconnect to it); only a first start may try another.
      if (!fresh && attempt < 20) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (!fresh || attempt >= 2) throw new FacefleetError('E_DEPENDENCY', `redis-server did not start on port ${port} (log: ${path.join(this.options.dir, 'redis.log')})`);
    }
  }

  /** Stops the server: SIGTERM (Redis writes and fsyncs its AOF on the way out), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGTERM');
    const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(late);
  }

  /** SIGKILLs the server at once (synchronous, for process exit). */
  killNow(): void {
    this.child?.kill('SIGKILL');
  }

  /** Stops, then starts again on the same port and directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private answers(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.setTimeout(500);
      // An unauthenticated PING is refused with NOAUTH, which still proves the server is up.
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => {
        sock.destroy();
        resolve(/^(\+PONG|-NOAUTH)/.test(d.toString()));
      });
      sock.once('error', () => resolve(false));
      sock.once('timeout', () => (sock.destroy(), resolve(false)));
    });
  }
}
