import type { ClusterTopology, MasterNode } from './cluster-topology';
import { keySlot } from './key-slot';
import type { Shard } from './shards';

/** Where one shard lives on a Redis Cluster. */
export interface ShardPlace {
  /** The shard's index. */
  index: number;
  /** Its BullMQ queue name (`{facefleet-3}`). */
  queue: string;
  /** The hash slot of its keys. */
  slot: number;
  /** Id of the master serving the slot; `undefined` when none that is up does. */
  master: string | undefined;
}

/** How a queue's shards fall on a cluster's masters. */
export interface Placement {
  shards: ShardPlace[];
  masters: MasterNode[];
  /** Shards on each master, in the order of `masters`. */
  perMaster: number[];
  /**
   * True when every master holds ⌊N / masters⌋ or ⌈N / masters⌉ of the N shards (and every shard is on
   * a master that is up).
   */
  even: boolean;
}

/** The slot of a shard: that of its keys (`<prefix>:<queue>:…`, which share the shard's hash tag). */
export function shardSlot(shard: Pick<Shard, 'prefix' | 'queue'>): number {
  return keySlot(`${shard.prefix}:${shard.queue}:wait`);
}

/** True when no count differs from another by more than one: each is the floor or the ceiling of the mean. */
export function isEven(counts: readonly number[]): boolean {
  return counts.length === 0 || Math.max(...counts) - Math.min(...counts) <= 1;
}

/** Where each shard lives on the cluster `topology` describes. */
export function placementOf(shards: readonly Shard[], topology: ClusterTopology): Placement {
  const ids = new Set(topology.masters.map((m) => m.id));
  const places = shards.map((s) => {
    const slot = shardSlot(s);
    const owner = topology.ownerOf(slot);
    return { index: s.index, queue: s.queue, slot, master: owner !== undefined && ids.has(owner) ? owner : undefined };
  });
  const perMaster = topology.masters.map((m) => places.filter((p) => p.master === m.id).length);
  return { shards: places, masters: topology.masters, perMaster, even: places.every((p) => p.master !== undefined) && isEven(perMaster) };
}

/** One slot to move, with the shards whose keys it holds. */
export interface SlotMove {
  slot: number;
  /** Indexes of the shards in the slot (more than one only when their tags hash alike). */
  shards: number[];
  /** Master id the slot leaves. */
  from: string;
  /** Master id the slot goes to. */
  to: string;
}

/**
 * The slot moves that spread the shards evenly over the masters: repeatedly the fullest master gives
 * a slot of the queue's shards to the emptiest, while they differ by more than one shard and a move
 * brings them closer. With one shard per slot that is the fewest moves there are (the masters that
 * hold most keep the ⌈N / masters⌉ shares); of a master's slots, the one holding fewest shards moves first, then
 * the one with fewest keys (`keysOf`), then the lowest slot. Only slots of the queue's shards are
 * moved. Shards whose tags share a slot move together, so with such collisions an even placement
 * may be out of reach: the plan then stops as close as it gets.
 *
 * @throws RangeError when a shard's slot is served by no master that is up.
 */
export function planBalance(placement: Placement, keysOf: (slot: number) => number = () => 0): SlotMove[] {
  const lost = placement.shards.filter((s) => s.master === undefined);
  if (lost.length > 0) throw new RangeError(`shard(s) ${lost.map((s) => s.index).join(', ')}: slot served by no master that is up`);
  const slots = new Map<number, { slot: number; shards: number[]; master: string }>();
  for (const s of placement.shards) {
    const at = slots.get(s.slot);
    if (at) at.shards.push(s.index);
    else slots.set(s.slot, { slot: s.slot, shards: [s.index], master: s.master! });
  }
  const count = new Map(placement.masters.map((m, i) => [m.id, placement.perMaster[i]]));
  const order = placement.masters.map((m) => m.id);
  const moves: SlotMove[] = [];
  for (;;) {
    const byCount = [...order].sort((a, b) => count.get(b)! - count.get(a)! || order.indexOf(a) - order.indexOf(b));
    const from = byCount[0];
    const to = byCount[byCount.length - 1];
    const gap = count.get(from)! - count.get(to)!;
    if (gap <= 1) break;
    const candidates = [...slots.values()]
      .filter((s) => s.master === from && s.shards.length < gap)
      .sort((a, b) => a.shards.length - b.shards.length || keysOf(a.slot) - keysOf(b.slot) || a.slot - b.slot);
    const pick = candidates[0];
    if (!pick) break;
    pick.master = to;
    count.set(from, count.get(from)! - pick.shards.length);
    count.set(to, count.get(to)! + pick.shards.length);
    moves.push({ slot: pick.slot, shards: [...pick.shards].sort((a, b) => a - b), from, to });
  }
  return moves;
}
