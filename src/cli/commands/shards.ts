import { Cluster } from 'ioredis';
import { loadShardsConfig, ShardsConfig } from '../../config/shards-config';
import { fieldLabel } from '../../config/parse';
import { FacefleetError } from '../../errors';
import { connectQueue, QueueHandles } from '../../queue/queue-handles';
import { balanceShards, keysPerSlot, MoveReport, readCluster } from '../../queue/shard-balance';
import { Placement, placementOf, shardSlot } from '../../queue/shard-placement';

/** What `facefleet shards` does: list the placement, or balance it. */
const SHARDS_ACTIONS = ['list', 'balance'] as const;

/** One shard as `facefleet shards --json` lists it. */
export interface ShardRow {
  shard: number;
  queue: string;
  slot: number;
  /** Address of the master serving the slot; `null` when none that is up does, or on one Redis. */
  master: string | null;
  /** Keys in the slot (`CLUSTER COUNTKEYSINSLOT`); `null` on one Redis. */
  keys: number | null;
  /** Jobs waiting (waiting and prioritized; a paused queue's count as waiting). */
  waiting: number;
}

/** Where the shards live, as `facefleet shards --json` prints it. */
export interface ShardsListing {
  queue: string;
  shards: number;
  cluster: boolean;
  /** Every master holds ⌊N / masters⌋ or ⌈N / masters⌉ shards (always true on one Redis). */
  even: boolean;
  masters: Array<{ id: string; address: string; shards: number }>;
  placement: ShardRow[];
}

/**
 * `facefleet shards [list | balance]`. `list` (the default) prints each shard's slot, the master
 * serving it, the keys in its slot and its waiting jobs, and whether the shards are spread evenly over
 * the masters; `balance` moves the slots of the shards' hash tags (and no other) live until every
 * master holds ⌊N / masters⌋ or ⌈N / masters⌉ of them, and with `--dry-run` prints the moves only.
 * `balance` exits 0 when the placement ends (or, dry, would end) even, 1 when slot collisions keep it
 * from being even.
 */
export async function run(flags: Record<string, unknown>, [given = 'list']: readonly string[] = []): Promise<number> {
  const action = SHARDS_ACTIONS.find((a) => a === given);
  if (!action) throw new FacefleetError('E_CONFIG', `shards: expected ${SHARDS_ACTIONS.join(', ')}, got ${given}`);
  const config = loadShardsConfig(action, flags);
  if (action === 'balance' && !config.redisCluster) throw new FacefleetError('E_CONFIG', `redisCluster (${fieldLabel(config, 'redisCluster')}): shards balance moves hash slots of a Redis Cluster; give --redis-cluster (FACEFLEET_REDIS_CLUSTER=true)`);
  const handles = await connectQueue(config, { field: fieldLabel(config, 'shards'), onError: (err) => process.stderr.write(`facefleet shards: redis: ${err.message}\n`), claim: false });
  try {
    return action === 'list' ? await list(config, handles) : await balance(config, handles);
  } finally {
    await handles.close();
  }
}

async function list(config: Readonly<ShardsConfig>, handles: QueueHandles): Promise<number> {
  const waiting = await Promise.all(handles.queues.map(async (q) => Object.values(await q.getJobCounts('waiting', 'prioritized')).reduce((a, b) => a + b, 0)));
  let listing: ShardsListing;
  if (handles.redis instanceof Cluster) {
    const view = await readCluster(handles.redis);
    const placement = placementOf(handles.shards, view.topology);
    const keys = await keysPerSlot(view, placement);
    listing = listingOf(config, placement, (slot) => keys.get(slot) ?? null, waiting);
  } else {
    const placement = handles.shards.map((s) => ({ shard: s.index, queue: s.queue, slot: shardSlot(s), master: null, keys: null, waiting: waiting[s.index] }));
    listing = { queue: config.queue, shards: handles.shards.length, cluster: false, even: true, masters: [], placement };
  }
  if (config.json) {
    process.stdout.write(`${JSON.stringify(listing)}\n`);
    return 0;
  }
  process.stdout.write(`${'shard'.padStart(5)}  ${'queue'.padEnd(24)} ${'slot'.padStart(5)}  ${'master'.padEnd(22)} ${'keys'.padStart(9)} ${'waiting'.padStart(9)}\n`);
  for (const r of listing.placement) {
    process.stdout.write(`${String(r.shard).padStart(5)}  ${r.queue.padEnd(24)} ${String(r.slot).padStart(5)}  ${(r.master ?? (listing.cluster ? '(no master up)' : '(one Redis)')).padEnd(22)} ${String(r.keys ?? '-').padStart(9)} ${String(r.waiting).padStart(9)}\n`);
  }
  process.stdout.write(`${placementLine(listing)}\n`);
  return 0;
}

async function balance(config: Readonly<ShardsConfig>, handles: QueueHandles): Promise<number> {
  const cluster = handles.redis as Cluster;
  const url = new URL(config.redisUrl);
  const auth = url.password ? { password: decodeURIComponent(url.password), ...(url.username ? { username: decodeURIComponent(url.username) } : {}) } : undefined;
  const report = await balanceShards(cluster, handles.shards, {
    dryRun: config.dryRun,
    batch: config.batch,
    timeoutMs: config.migrateTimeoutMs,
    auth,
    onMove: (move, finishing) => {
      if (!config.json) process.stderr.write(`${finishing ? 'finishing the move of' : 'moving'} slot ${move.slot} (shard ${move.shards.join(', ')})\n`);
    },
  });
  const address = new Map(report.before.masters.map((m) => [m.id, m.address]));
  const named = (m: MoveReport) => ({ slot: m.slot, shards: m.shards, from: address.get(m.from) ?? m.from, to: address.get(m.to) ?? m.to, keys: m.keys });
  const after = listingOf(config, report.after, () => null, []);
  if (config.json) {
    process.stdout.write(`${JSON.stringify({ queue: config.queue, dryRun: config.dryRun === true, finished: report.finished.map(named), moves: report.moves.map(named), even: after.even, masters: after.masters })}\n`);
    return after.even ? 0 : 1;
  }
  const verb = config.dryRun ? 'would move' : 'moved';
  for (const m of report.finished.map(named)) process.stdout.write(`${config.dryRun ? 'would finish' : 'finished'} the move of slot ${m.slot} (shard ${m.shards.join(', ')}, ${m.keys} keys): ${m.from} → ${m.to}\n`);
  for (const m of report.moves.map(named)) process.stdout.write(`${verb} slot ${m.slot} (shard ${m.shards.join(', ')}, ${m.keys} keys): ${m.from} → ${m.to}\n`);
  if (report.finished.length + report.moves.length === 0) process.stdout.write('nothing to move\n');
  process.stdout.write(`${config.dryRun && report.moves.length + report.finished.length > 0 ? 'after the moves, ' : ''}${placementLine(after)}\n`);
  return after.even ? 0 : 1;
}

function listingOf(config: Readonly<ShardsConfig>, placement: Placement, keys: (slot: number) => number | null, waiting: readonly number[]): ShardsListing {
  const address = new Map(placement.masters.map((m) => [m.id, m.address]));
  return {
    queue: config.queue,
    shards: placement.shards.length,
    cluster: true,
    even: placement.even,
    masters: placement.masters.map((m, i) => ({ id: m.id, address: m.address, shards: placement.perMaster[i] })),
    placement: placement.shards.map((s) => ({ shard: s.index, queue: s.queue, slot: s.slot, master: s.master === undefined ? null : address.get(s.master) ?? null, keys: keys(s.slot), waiting: waiting[s.index] ?? 0 })),
  };
}

/** The closing line: each master's count, and whether that is even. */
function placementLine(l: ShardsListing): string {
  if (!l.cluster) return `placement: one Redis holds all ${l.shards} shard(s) (not a Redis Cluster)`;
  const lo = Math.floor(l.shards / Math.max(1, l.masters.length));
  const share = l.shards % Math.max(1, l.masters.length) === 0 ? `${lo}` : `${lo} or ${lo + 1}`;
  const counts = l.masters.map((m) => `${m.address} ${m.shards}`).join(', ');
  const lost = l.placement.filter((r) => r.master === null).length;
  if (l.even) return `placement: even: ${l.shards} shard(s) on ${l.masters.length} master(s), ${share} on each (${counts})`;
  return `placement: uneven: ${l.shards} shard(s) on ${l.masters.length} master(s) should be ${share} on each (${counts}${lost > 0 ? `; ${lost} on no master that is up` : ''}); run facefleet shards balance`;
}
