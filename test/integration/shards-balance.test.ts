import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { ShardsListing } from '../../src/cli/commands/shards';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { connectQueue, QueueHandles } from '../../src/queue/queue-handles';
import { shardOf } from '../../src/queue/shards';
import { StoreRegistry } from '../../src/storage/store-registry';
import { runFacefleet } from '../../tools/harness/facefleet-process';
import { pollUntil, sleep } from '../../tools/harness/poll';
import { waitForRun } from '../support/fleet';
import { copyPhotos, countJsonFiles, PhotoCopy, scanResults } from '../support/photo-runs';
import { describeWith } from '../support/prerequisites';
import { ProcessGroup } from '../support/process-group';
import { RedisClusterHarness } from '../support/redis-cluster';

const SHARDS = 12;

/** What `facefleet shards balance --json` prints. */
interface BalanceOutput {
  dryRun: boolean;
  finished: Array<{ slot: number; shards: number[]; from: string; to: string; keys: number }>;
  moves: Array<{ slot: number; shards: number[]; from: string; to: string; keys: number }>;
  even: boolean;
  masters: Array<{ address: string; shards: number }>;
}

/** A key's type, content and whether it expires, read where it lives. */
async function readKey(client: Redis, key: string): Promise<unknown> {
  const type = await client.type(key);
  const expires = (await client.pttl(key)) > 0;
  const value =
    type === 'string' ? await client.get(key)
    : type === 'hash' ? await client.hgetall(key)
    : type === 'list' ? await client.lrange(key, 0, -1)
    : type === 'set' ? (await client.smembers(key)).sort()
    : type === 'zset' ? await client.call('ZRANGE', key, '0', '-1', 'WITHSCORES')
    : type === 'stream' ? await client.xrange(key, '-', '+')
    : `unexpected type ${type}`;
  return { type, expires, value };
}

/**
 * `facefleet shards` and `facefleet shards balance` on a real Redis Cluster of three masters: a queue
 * of 12 shards whose tags fall unevenly is reported uneven, a dry run moves nothing, the balance
 * moves only the slots of the queue's shards and leaves every master holding 4, every key of every
 * shard (jobs, lists, run records, their expiry) comes through unchanged, running it again moves
 * nothing, and the run then completes with nothing lost. A move left half done is finished by the
 * next balance, and a balance made while workers hold jobs (one frozen with SIGSTOP, one running)
 * loses nothing and counts each image once.
 */
describeWith({ name: 'redis-server and redis-cli', available: RedisClusterHarness.available(), install: 'sudo apt-get install redis-server redis-tools' }, 'facefleet shards balance on a real Redis Cluster', () => {
  const procs = new ProcessGroup();
  const stores = new StoreRegistry();
  const handles: QueueHandles[] = [];
  let cluster: RedisClusterHarness;
  let tmp: string;
  let photos: PhotoCopy[];

  /** `facefleet <args>` against the cluster and `queue`, split into {@link SHARDS}. */
  const facefleet = (queue: string, args: string[]) =>
    runFacefleet(args, { env: { REDIS_URL: cluster.url, FACEFLEET_REDIS_CLUSTER: 'true', FACEFLEET_QUEUE: queue, FACEFLEET_SHARDS: String(SHARDS) }, logLevel: 'warn' });
  const json = <T>(queue: string, args: string[]): T => {
    const run = facefleet(queue, [...args, '--json']);
    if (run.status !== 0) throw new Error(`facefleet ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  };

  /**
   * A queue name whose 12 shards fall unevenly on the three masters (one holds two more than another),
   * each in a slot of its own (shards sharing a slot move together, which can make an even split
   * impossible).
   */
  const unevenQueue = (label: string) =>
    cluster.queueWhere(label, SHARDS, (perMaster, slots) => Math.max(...perMaster) - Math.min(...perMaster) >= 2 && new Set(slots).size === SHARDS);

  /** Shards per master (in node order), from the cluster's own CLUSTER KEYSLOT and CLUSTER SLOTS. */
  const perMaster = async (queue: string) => {
    const masters = await cluster.nodesOf(Array.from({ length: SHARDS }, (_, i) => `bull:{${queue}-${i}}:wait`));
    return cluster.nodes.map((_, n) => masters.filter((m) => m === n).length);
  };

  /** The master of every slot, by port. */
  const owners = async () => {
    const owner = new Array<number>(16384);
    for (const [lo, hi, port] of await cluster.slotRanges()) owner.fill(port, lo, hi + 1);
    return owner;
  };

  /** Every key of every shard of `queue`, with its content, read on the node that holds it; and which node that is. */
  const snapshot = async (queue: string) => {
    const where = await cluster.scanKeys(`bull:{${queue}-*`);
    const content = new Map<string, unknown>();
    const clients = cluster.nodes.map((_, i) => cluster.nodeClient(i));
    try {
      for (const [key, node] of where) content.set(key, await readKey(clients[node], key));
    } finally {
      for (const c of clients) c.disconnect();
    }
    return { where, content };
  };

  /** Opens a queue of {@link SHARDS} shards and enqueues the photos as run `runId` into `out`. */
  const enqueuePhotos = async (queue: string, runId: string, out: string) => {
    const q = await connectQueue({ redisUrl: cluster.url, redisCluster: true, queue, redisPrefix: 'bull', shards: SHARDS });
    handles.push(q);
    const report = await enqueueRun(q.queues, q.redis, q.runs, fromPrefix(stores, `file://${tmp}/photos/`), { runId, results: `file://${out}`, model: 'blazeface' });
    expect(report.enqueued).toBe(photos.length);
    return q;
  };

  const spawnWorker = (queue: string, id: string) =>
    procs.spawnWorker(cluster.url, queue, ['--redis-cluster', '--shards', String(SHARDS), '--model', 'blazeface', '--batch', '4', '--lock-duration-ms', '5000', '--stalled-interval-ms', '2000', '--worker-id', id]);

  /** Every photo has exactly one valid result of the run in `out`. */
  const expectEveryResult = (out: string, runId: string) => {
    const scan = scanResults(out);
    expect(scan.bad).toEqual([]);
    expect([...scan.results.keys()].sort()).toEqual(photos.map((p) => p.key).sort());
    for (const p of photos) expect(scan.results.get(p.key)).toMatchObject({ key: p.key, runId, source: { url: `file://${p.path}` } });
  };

  /** Jobs of every shard, by state, added up. */
  const jobCounts = async (q: QueueHandles) => {
    const all = await Promise.all(q.queues.map((bq) => bq.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')));
    return all.reduce<Record<string, number>>((sum, c) => {
      for (const [k, v] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    }, {});
  };

  beforeAll(async () => {
    cluster = await RedisClusterHarness.start({ masters: 3 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-balance-'));
    photos = copyPhotos(path.join(tmp, 'photos'), 120);
  }, 120_000);

  afterAll(async () => {
    await procs.killAll();
    await Promise.all(handles.map((q) => q.close()));
    await stores.closeAll();
    await cluster?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('a queue whose shards fall unevenly', () => {
    let queue: string;
    let q: QueueHandles;
    const out = () => path.join(tmp, 'out-balance');

    beforeAll(async () => {
      queue = await unevenQueue('balance');
      q = await enqueuePhotos(queue, 'balanced', out());
    });

    it('lists each shard with its slot, master, keys and waiting jobs, and says the placement is uneven', async () => {
      const listing = json<ShardsListing>(queue, ['shards']);
      const masters = await cluster.nodesOf(listing.placement.map((r) => `bull:${r.queue}:wait`));
      const { where } = await snapshot(queue);
      expect(listing).toMatchObject({ queue, shards: SHARDS, cluster: true, even: false });
      for (const [i, row] of listing.placement.entries()) {
        expect(row.shard).toBe(i);
        expect(row.queue).toBe(`{${queue}-${i}}`);
        expect(row.master).toBe(`127.0.0.1:${cluster.nodes[masters[i]].port}`);
        expect(row.keys).toBe([...where.keys()].filter((k) => k.startsWith(`bull:${row.queue}:`)).length);
        expect(row.waiting).toBe(photos.filter((p) => shardOf(`file://${p.path}`, SHARDS) === i).length);
      }
      // The slot of every shard is the one the cluster itself computes.
      const probe = cluster.nodeClient(0);
      try {
        for (const row of listing.placement) expect(Number(await probe.call('CLUSTER', 'KEYSLOT', `bull:${row.queue}:wait`))).toBe(row.slot);
      } finally {
        probe.disconnect();
      }
      const counts = await perMaster(queue);
      expect(listing.masters.map((m) => m.shards).sort()).toEqual([...counts].sort());
      expect(facefleet(queue, ['shards']).stdout).toMatch(/placement: uneven: 12 shard\(s\) on 3 master\(s\) should be 4 on each/);
    });

    it('prints the moves on a dry run and moves nothing', async () => {
      const before = await owners();
      const dry = json<BalanceOutput>(queue, ['shards', 'balance', '--dry-run']);
      expect(dry).toMatchObject({ dryRun: true, finished: [], even: true });
      expect(dry.moves.length).toBeGreaterThan(0);
      expect(await owners()).toEqual(before);
      expect(facefleet(queue, ['shards', 'balance', '--dry-run']).stdout).toMatch(/^would move slot \d+ \(shard \d+, \d+ keys\): 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+$/m);
    });

    it('moves only the slots of the shards, leaves 4 shards on every master and every key as it was', async () => {
      const before = await snapshot(queue);
      const ownersBefore = await owners();
      const shardSlots = new Set(json<ShardsListing>(queue, ['shards']).placement.map((r) => r.slot));
      const report = json<BalanceOutput>(queue, ['shards', 'balance']);
      expect(report).toMatchObject({ dryRun: false, finished: [], even: true });
      expect(report.moves.length).toBeGreaterThan(0);
      expect(await perMaster(queue)).toEqual([4, 4, 4]);

      // Only the moved slots changed hands, each to the master the report names; all are the shards'.
      const ownersAfter = await owners();
      const changed = ownersAfter.flatMap((port, slot) => (port !== ownersBefore[slot] ? [slot] : []));
      expect(changed.sort((a, b) => a - b)).toEqual(report.moves.map((m) => m.slot).sort((a, b) => a - b));
      for (const m of report.moves) {
        expect(shardSlots.has(m.slot)).toBe(true);
        expect(`127.0.0.1:${ownersAfter[m.slot]}`).toBe(m.to);
        expect(`127.0.0.1:${ownersBefore[m.slot]}`).toBe(m.from);
      }

      // Every key is still there, with the same content and expiry, on the master of its slot now.
      const after = await snapshot(queue);
      expect(after.content).toEqual(before.content);
      expect([...after.where.values()]).toEqual(await cluster.nodesOf([...after.where.keys()]));
      const moved = report.moves.reduce((n, m) => n + m.keys, 0);
      expect(moved).toBe([...before.where.keys()].filter((k) => report.moves.some((m) => m.shards.some((s) => k.startsWith(`bull:{${queue}-${s}}:`)))).length);
      expect(moved).toBeGreaterThan(0);
      expect(await q.runs.get('balanced')).toMatchObject({ total: photos.length, sealed: true, done: 0 });
    });

    it('says the placement is even afterwards, and moves nothing when run again', () => {
      expect(json<ShardsListing>(queue, ['shards'])).toMatchObject({ even: true });
      expect(facefleet(queue, ['shards']).stdout).toMatch(/placement: even: 12 shard\(s\) on 3 master\(s\), 4 on each/);
      const again = facefleet(queue, ['shards', 'balance']);
      expect(again.status).toBe(0);
      expect(again.stdout).toMatch(/^nothing to move$/m);
      expect(json<BalanceOutput>(queue, ['shards', 'balance'])).toMatchObject({ finished: [], moves: [], even: true });
    });

    it('then completes the run with every result present and each image counted once', async () => {
      const workers = [spawnWorker(queue, 'bal-a'), spawnWorker(queue, 'bal-b')];
      await Promise.all(workers.map((w) => w.waitForStart()));
      const run = await waitForRun(q.runs, 'balanced', 150_000, 200);
      await Promise.all(workers.map((w) => w.stop()));
      expect(workers.filter((w) => w.crashed)).toEqual([]);
      expect(run).toMatchObject({ total: photos.length, done: photos.length, skipped: 0, failed: 0, failures: {} });
      expect(await jobCounts(q)).toMatchObject({ waiting: 0, active: 0, delayed: 0, prioritized: 0, failed: 0, completed: photos.length });
      expectEveryResult(out(), 'balanced');
    }, 240_000);
  });

  it('finishes a slot move an earlier balance left half done, keys and all', async () => {
    const queue = await unevenQueue('open');
    await enqueuePhotos(queue, 'open', path.join(tmp, 'out-open'));
    const before = await snapshot(queue);
    // Shard 0's slot, left importing on another master and migrating on its own, half its keys moved.
    const [source] = await cluster.nodesOf([`bull:{${queue}-0}:wait`]);
    const target = (source + 1) % 3;
    const address = (node: number) => `127.0.0.1:${cluster.nodes[node].port}`;
    const src = cluster.nodeClient(source);
    const dst = cluster.nodeClient(target);
    let slot: number;
    let keys: string[];
    let half: string[];
    try {
      slot = Number(await src.call('CLUSTER', 'KEYSLOT', `{${queue}-0}`));
      const [srcId, dstId] = [String(await src.call('CLUSTER', 'MYID')), String(await dst.call('CLUSTER', 'MYID'))];
      await dst.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', srcId);
      await src.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dstId);
      keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '1000')) as string[];
      half = keys.slice(0, Math.ceil(keys.length / 2));
      expect(half.length).toBeGreaterThan(1);
      await src.call('MIGRATE', '127.0.0.1', String(cluster.nodes[target].port), '', '0', '5000', 'KEYS', ...half);
      expect(Number(await dst.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)))).toBe(half.length);
    } finally {
      src.disconnect();
      dst.disconnect();
    }

    const report = json<BalanceOutput>(queue, ['shards', 'balance']);
    expect(report.finished).toEqual([{ slot, shards: [0], from: address(source), to: address(target), keys: keys.length - half.length }]);
    expect(report.even).toBe(true);
    // Shard 0 is where the finished move took it, unless the balance that followed moved it on.
    const onward = report.moves.find((m) => m.slot === slot);
    expect(address((await cluster.nodesOf([`bull:{${queue}-0}:wait`]))[0])).toBe(onward?.to ?? address(target));
    for (const [i] of cluster.nodes.entries()) {
      const c = cluster.nodeClient(i);
      try {
        // No slot is left migrating or importing on any master.
        expect(String(await c.call('CLUSTER', 'NODES'))).not.toMatch(/\[\d+-[<>]-/);
      } finally {
        c.disconnect();
      }
    }
    const after = await snapshot(queue);
    expect(after.content).toEqual(before.content);
    expect([...after.where.values()]).toEqual(await cluster.nodesOf([...after.where.keys()]));
    expect(await perMaster(queue)).toEqual([4, 4, 4]);
  });

  it('rides out a slot held mid-move past ioredis’s TRYAGAIN retries while workers run; balance then finishes it', async () => {
    const queue = await unevenQueue('held');
    const out = path.join(tmp, 'out-held');
    const q = await enqueuePhotos(queue, 'held', out);
    const workers = [spawnWorker(queue, 'held-a'), spawnWorker(queue, 'held-b')];
    await Promise.all(workers.map((w) => w.waitForStart()));
    await pollUntil('10 results', () => (countJsonFiles(out) >= 10 ? true : undefined), 90_000, 10);
    const [source] = await cluster.nodesOf([`bull:{${queue}-0}:wait`]);
    const target = (source + 1) % 3;
    const src = cluster.nodeClient(source);
    const dst = cluster.nodeClient(target);
    let slot: number;
    try {
      slot = Number(await src.call('CLUSTER', 'KEYSLOT', `{${queue}-0}`));
      await dst.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', String(await src.call('CLUSTER', 'MYID')));
      await src.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', String(await dst.call('CLUSTER', 'MYID')));
    } finally {
      src.disconnect();
      dst.disconnect();
    }
    // The run must still have work when the slot opens, or nothing is being tested.
    const atOpen = await q.runs.get('held');
    expect(atOpen!.done + atOpen!.failed).toBeLessThan(photos.length);
    // ioredis gives up on TRYAGAIN after 16 × 100 ms; hold the slot open well past that.
    await sleep(4000);
    const report = json<BalanceOutput>(queue, ['shards', 'balance']);
    expect(report.finished.map((m) => m.slot)).toEqual([slot]);
    expect(report.even).toBe(true);

    const run = await waitForRun(q.runs, 'held', 150_000, 200);
    await pollUntil('every shard drained', async () => {
      const c = await jobCounts(q);
      return c.waiting + c.active + c.delayed + c.prioritized === 0 ? c : undefined;
    }, 60_000, 200);
    await Promise.all(workers.map((w) => w.stop()));
    expect(workers.filter((w) => w.crashed)).toEqual([]);
    expect(run).toMatchObject({ total: photos.length, done: photos.length, failed: 0, failures: {} });
    expect(await jobCounts(q)).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expectEveryResult(out, 'held');
  }, 300_000);

  it('balances while workers hold jobs: nothing lost, each image counted once', async () => {
    const queue = await unevenQueue('live');
    const out = path.join(tmp, 'out-live');
    const q = await enqueuePhotos(queue, 'live', out);
    const frozen = spawnWorker(queue, 'live-frozen');
    await frozen.waitForStart();
    await pollUntil('10 results', () => (countJsonFiles(out) >= 10 ? true : undefined), 90_000, 10);
    frozen.signal('SIGSTOP');
    const held = (await jobCounts(q)).active;
    // The frozen worker must hold jobs while their slots move, or nothing is being tested.
    expect(held).toBeGreaterThan(0);
    const running = spawnWorker(queue, 'live-running');
    await running.waitForStart();
    try {
      const report = json<BalanceOutput>(queue, ['shards', 'balance']);
      expect(report.moves.length).toBeGreaterThan(0);
      expect(report.even).toBe(true);
    } finally {
      frozen.signal('SIGCONT');
    }
    expect(await perMaster(queue)).toEqual([4, 4, 4]);
    const run = await waitForRun(q.runs, 'live', 150_000, 200);
    await pollUntil('every shard drained', async () => {
      const c = await jobCounts(q);
      return c.waiting + c.active + c.delayed + c.prioritized === 0 ? c : undefined;
    }, 60_000, 200);
    await Promise.all([frozen.stop(), running.stop()]);
    expect([frozen, running].filter((w) => w.crashed)).toEqual([]);
    expect(run).toMatchObject({ total: photos.length, done: photos.length, failed: 0, failures: {} });
    expect(await jobCounts(q)).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expectEveryResult(out, 'live');
  }, 300_000);
});
