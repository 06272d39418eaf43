import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis, { Redis } from 'ioredis';
import { freePort } from '../../src/lifecycle/free-port';
import { hasRedisServer } from '../../src/queue/private-redis';

/** Options of {@link RedisClusterHarness.start}. */
export interface RedisClusterOptions {
  /** Masters, each with its share of the 16384 slots (no replicas). @defaultValue 3 */
  masters?: number;
  /** `requirepass` and `masterauth` of every node; the URL carries it. @defaultValue none */
  password?: string;
  /**
   * `cluster-node-timeout`, ms: how long a master may be unreachable before the others mark it failed.
   * @defaultValue 2000
   */
  nodeTimeoutMs?: number;
  /**
   * `cluster-require-full-coverage`: `false` keeps the cluster answering for the slots of the masters
   * that are up while one is down (what a sharded queue wants: the other shards keep working).
   * @defaultValue false
   */
  requireFullCoverage?: boolean;
}

/** One `redis-server` of the cluster. */
export interface ClusterNodeInfo {
  port: number;
  /** Data directory: `nodes.conf`, the AOF and `redis.log`. */
  dir: string;
  /** True while its process runs. */
  running: boolean;
}

class ClusterNode implements ClusterNodeInfo {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: readonly string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn('redis-server', [...this.args], { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!this.child) throw new Error(`redis-server on port ${this.port} exited at start (log: ${path.join(this.dir, 'redis.log')})`);
      if (await this.answers()) return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer within 15 s (log: ${path.join(this.dir, 'redis.log')})`);
      await sleep(50);
    }
  }

  /** SIGKILL: no shutdown, no final AOF rewrite, as a crash or an OOM kill. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 5000)));
    const gone = await Promise.race([this.exited.then(() => true), late]);
    clearTimeout(timer);
    if (!gone) await this.kill();
  }

  private async answers(): Promise<boolean> {
    const client = this.client();
    try {
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  }

  /** A plain (non-cluster) connection to this node that fails fast instead of retrying. */
  client(password?: string): Redis {
    const client = new IORedis({ host: '127.0.0.1', port: this.port, password, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
    // A node that is down refuses the connection: the command's rejection says so, the event adds nothing.
    client.on('error', () => undefined);
    return client;
  }
}

/**
 * A real Redis Cluster on loopback for one test file: `masters` `redis-server` processes started in
 * cluster mode (`--cluster-enabled yes --cluster-config-file nodes.conf`, AOF `everysec`) on free ports,
 * joined by `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`. A master can be killed
 * with SIGKILL and started again on the same port and directory, as an operator restarting a crashed
 * node would: it rejoins with its `nodes.conf` and reloads its data from the AOF.
 */
export class RedisClusterHarness {
  private constructor(
    private readonly nodeList: ClusterNode[],
    private readonly root: string,
    private readonly password: string | undefined,
  ) {}

  /** True when `redis-server` and `redis-cli` are on PATH. */
  static available(): boolean {
    return hasRedisServer() && hasCli();
  }

  /** Starts the nodes, creates the cluster and waits until every node reports it healthy. */
  static async start(options: RedisClusterOptions = {}): Promise<RedisClusterHarness> {
    const masters = options.masters ?? 3;
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cluster-'));
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const dir = path.join(root, `node-${i}`);
      fs.mkdirSync(dir);
      const args = [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log'),
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000),
        '--cluster-require-full-coverage', options.requireFullCoverage ? 'yes' : 'no',
        '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction',
        ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
      ];
      nodes.push(new ClusterNode(port, dir, args));
    }
    const cluster = new RedisClusterHarness(nodes, root, options.password);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await cluster.create();
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** The nodes, in port order of creation. */
  get nodes(): readonly ClusterNodeInfo[] {
    return this.nodeList;
  }

  /** The seed URL (first node), with the password when the cluster has one. */
  get url(): string {
    const auth = this.password ? `:${encodeURIComponent(this.password)}@` : '';
    return `redis://${auth}127.0.0.1:${this.nodeList[0].port}`;
  }

  /** The node serving `key`'s slot, from `CLUSTER KEYSLOT` and `CLUSTER SLOTS` of a running node. */
  async nodeOf(key: string): Promise<number> {
    return (await this.nodesOf([key]))[0];
  }

  /** The node serving each key's slot (indexes into {@link nodes}), asked over one connection. */
  async nodesOf(keys: readonly string[]): Promise<number[]> {
    return (await this.placementOf(keys)).map((p) => p.node);
  }

  /** The slot of each key (`CLUSTER KEYSLOT`) and the node serving it (`CLUSTER SLOTS`), asked over one connection. */
  async placementOf(keys: readonly string[]): Promise<Array<{ slot: number; node: number }>> {
    const client = this.nodeClient(this.runningIndex());
    try {
      const ranges = await this.slotRangesOf(client);
      const out: Array<{ slot: number; node: number }> = [];
      for (const key of keys) {
        const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
        const range = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
        if (!range) throw new Error(`no node serves slot ${slot}`);
        const node = this.nodeList.findIndex((n) => n.port === range[2]);
        if (node === -1) throw new Error(`slot ${slot} is served by an unknown port ${range[2]}`);
        out.push({ slot, node });
      }
      return out;
    } finally {
      client.disconnect();
    }
  }

  /** `CLUSTER SLOTS` of a running node: `[first, last, port of its master]` for every range, in slot order. */
  async slotRanges(): Promise<Array<[number, number, number]>> {
    const client = this.nodeClient(this.runningIndex());
    try {
      return await this.slotRangesOf(client);
    } finally {
      client.disconnect();
    }
  }

  /**
   * Every key matching the glob `pattern` on every running node, with the index of the node holding
   * it: `SCAN` on each node's own connection, so a key is found where it really is, not where a
   * cluster client would be redirected to.
   */
  async scanKeys(pattern: string): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for (const [index, node] of this.nodeList.entries()) {
      if (!node.running) continue;
      const client = node.client(this.password);
      try {
        let cursor = '0';
        do {
          const [next, keys] = (await client.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000')) as [string, string[]];
          for (const key of keys) {
            if (found.has(key)) throw new Error(`key ${key} is on node ${found.get(key)} and node ${index}`);
            found.set(key, index);
          }
          cursor = next;
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    }
    return found;
  }

  /** A plain (non-cluster) connection to node `index` that fails fast instead of retrying; the caller disconnects it. */
  nodeClient(index: number): Redis {
    return this.nodeList[index].client(this.password);
  }

  /**
   * A queue name `<label>-<random>` whose `shards` shards (`{<name>-0}` …, under BullMQ prefix `bull`)
   * fall on the masters as `accept` wants, given how many land on each master (in node order) and the
   * slot of each shard; random names are drawn until one does. Tests that need the shards spread (or
   * not spread) in some way choose their queue with it instead of relying on a random name's luck.
   */
  async queueWhere(label: string, shards: number, accept: (perMaster: number[], slots: number[]) => boolean, tries = 500): Promise<string> {
    for (let i = 0; i < tries; i++) {
      const name = `${label}-${randomBytes(4).toString('hex')}`;
      const placed = await this.placementOf(Array.from({ length: shards }, (_, s) => `bull:{${name}-${s}}:wait`));
      const perMaster = this.nodeList.map((_, n) => placed.filter((p) => p.node === n).length);
      if (accept(perMaster, placed.map((p) => p.slot))) return name;
    }
    throw new Error(`no queue name of ${tries} tried places ${shards} shards as wanted`);
  }

  /**
   * Waits until a running node flags node `index` as failed (`fail` in `CLUSTER NODES`, past
   * `cluster-node-timeout`), as the cluster sees a master that crashed.
   */
  async waitMarkedFailed(index: number, timeoutMs = 30_000): Promise<void> {
    const victim = this.nodeList[index];
    const witness = this.nodeList.find((n) => n.running && n !== victim);
    if (!witness) throw new Error('no other running node to ask');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const client = witness.client(this.password);
      try {
        const line = String(await client.call('CLUSTER', 'NODES'))
          .split('\n')
          .find((l) => l.includes(`:${victim.port}@`));
        if (line && /(^|,)fail(,|$)/.test(line.split(' ')[2] ?? '')) return;
      } catch {
        // Asked again below.
      } finally {
        client.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`node ${victim.port} not flagged as failed within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** SIGKILLs node `index`. */
  async kill(index: number): Promise<void> {
    await this.nodeList[index].kill();
  }

  /** Starts node `index` again on its port and directory and waits until the cluster is healthy. */
  async restart(index: number, timeoutMs = 60_000): Promise<void> {
    await this.nodeList[index].start();
    await this.waitHealthy(timeoutMs);
  }

  /**
   * Waits until every running node answers `CLUSTER INFO` with `cluster_state:ok`, knows every node and
   * sees all 16384 slots served by masters that are not failing.
   */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = await this.health();
      if (last === '') return;
      if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms: ${last}`);
      await sleep(200);
    }
  }

  /** Stops every node and removes the data directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodeList.map((n) => n.stop()));
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  private runningIndex(): number {
    const index = this.nodeList.findIndex((n) => n.running);
    if (index === -1) throw new Error('no node of the cluster is running');
    return index;
  }

  private async slotRangesOf(client: Redis): Promise<Array<[number, number, number]>> {
    const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
    return ranges.map(([lo, hi, master]): [number, number, number] => [Number(lo), Number(hi), Number(master[1])]).sort((a, b) => a[0] - b[0]);
  }

  /** '' when healthy, else why not. */
  private async health(): Promise<string> {
    for (const node of this.nodeList) {
      if (!node.running) return `node ${node.port} is not running`;
      const client = node.client(this.password);
      try {
        const info = String(await client.call('CLUSTER', 'INFO'));
        const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
        if (field('cluster_state') !== 'ok') return `node ${node.port}: cluster_state ${field('cluster_state')}`;
        if (Number(field('cluster_known_nodes')) !== this.nodeList.length) return `node ${node.port}: knows ${field('cluster_known_nodes')} nodes`;
        if (Number(field('cluster_slots_ok')) !== 16384) return `node ${node.port}: ${field('cluster_slots_ok')} slots ok`;
      } catch (err) {
        return `node ${node.port}: ${(err as Error).message}`;
      } finally {
        client.disconnect();
      }
    }
    return '';
  }

  private async create(): Promise<void> {
    const args = ['--cluster', 'create', ...this.nodeList.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'];
    const env = { ...process.env, ...(this.password ? { REDISCLI_AUTH: this.password } : {}) };
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn('redis-cli', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.once('close', (code) => resolve({ code, text }));
    });
    if (out.code !== 0 || !/All 16384 slots covered/.test(out.text)) throw new Error(`redis-cli --cluster create failed (${out.code}):\n${out.text}`);
  }
}

function hasCli(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => fs.existsSync(path.join(d, 'redis-cli')));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
