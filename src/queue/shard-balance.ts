import type { Cluster, Redis } from 'ioredis';
import { FacefleetError } from '../errors';
import { ClusterTopology, OpenMove, parseClusterNodes, topologyOf } from './cluster-topology';
import { isEven, Placement, placementOf, planBalance, shardSlot, SlotMove } from './shard-placement';
import type { Shard } from './shards';
import { MasterClient, moveSlot, MoveSlotOptions } from './slot-migration';

/** A cluster's topology, with a direct connection to each of its masters. */
export interface ClusterView {
  topology: ClusterTopology;
  /** The masters that serve slots, by id. */
  clients: Map<string, MasterClient>;
}

/**
 * Asks every master the cluster client knows for its own `CLUSTER NODES` and builds the topology from
 * the answers (migrating and importing states appear only in a node's own answer).
 *
 * @throws FacefleetError `E_REDIS` when a master does not answer.
 */
export async function readCluster(cluster: Cluster): Promise<ClusterView> {
  const nodes: Redis[] = cluster.nodes('master');
  let answers: string[];
  try {
    answers = await Promise.all(nodes.map(async (n) => String(await n.call('CLUSTER', 'NODES'))));
  } catch (err) {
    throw new FacefleetError('E_REDIS', `reading the cluster's nodes: ${(err as Error).message}`, { cause: err });
  }
  const topology = topologyOf(answers);
  const clients = new Map<string, MasterClient>();
  answers.forEach((text, i) => {
    const self = parseClusterNodes(text).find((n) => n.myself);
    const master = self && topology.masters.find((m) => m.id === self.id);
    if (master) clients.set(master.id, { ...master, client: nodes[i] });
  });
  return { topology, clients };
}

/**
 * Keys held in the slot of each shard, counted on the master serving it (`CLUSTER COUNTKEYSINSLOT`);
 * `undefined` where none is up.
 *
 * @throws FacefleetError `E_REDIS` when a master does not answer.
 */
export async function keysPerSlot(view: ClusterView, placement: Placement): Promise<Map<number, number | undefined>> {
  const out = new Map<number, number | undefined>();
  try {
    await Promise.all(
      placement.shards.map(async (s) => {
        const owner = s.master === undefined ? undefined : view.clients.get(s.master);
        out.set(s.slot, owner ? Number(await owner.client.call('CLUSTER', 'COUNTKEYSINSLOT', String(s.slot))) : undefined);
      }),
    );
  } catch (err) {
    throw new FacefleetError('E_REDIS', `counting the keys of the shards' slots: ${(err as Error).message}`, { cause: err });
  }
  return out;
}

/** A slot move with the keys it carried (or holds, on a dry run). */
export interface MoveReport extends SlotMove {
  keys: number;
}

/** What {@link balanceShards} did. */
export interface BalanceReport {
  before: Placement;
  after: Placement;
  /** Moves of the queue's slots that an earlier run left open and this one finished. */
  finished: MoveReport[];
  /** The moves made (or, on a dry run, planned). */
  moves: MoveReport[];
}

/** Settings of {@link balanceShards}. */
export interface BalanceOptions extends Omit<MoveSlotOptions, 'onKeys'> {
  /** Plan the moves and make none. @defaultValue false */
  dryRun?: boolean;
  /** Called before each move. */
  onMove?: (move: SlotMove, finishing: boolean) => void;
}

/**
 * Spreads a queue's shards evenly over a cluster's masters by moving the hash slots of the shards'
 * tags, and only those ({@link planBalance}, then {@link moveSlot} for each, live). A move of one of
 * these slots that an earlier run left open is finished first, so running it again after an
 * interruption completes the job; on an even placement it moves nothing.
 *
 * @throws FacefleetError `E_REDIS` when a master is failing, a shard's slot has no master that is up,
 *   or a Redis call fails (the slot being moved is left open; running again finishes it).
 */
export async function balanceShards(cluster: Cluster, shards: readonly Shard[], options: BalanceOptions = {}): Promise<BalanceReport> {
  let view = await readCluster(cluster);
  healthy(view.topology);
  const before = placementOf(shards, view.topology);
  const slots = new Set(shards.map(shardSlot));
  const finished: MoveReport[] = [];
  for (const o of [...view.topology.open.values()].filter((m) => slots.has(m.slot))) {
    const move = { slot: o.slot, shards: shards.filter((s) => shardSlot(s) === o.slot).map((s) => s.index), from: o.from, to: o.to };
    if (!options.dryRun) options.onMove?.(move, true);
    finished.push({ ...move, keys: options.dryRun ? await countKeys(view, o) : await run(view, move, options) });
  }
  if (finished.length > 0 && !options.dryRun) view = await readCluster(cluster);

  // A dry run plans from the placement the unfinished moves would leave.
  const current = options.dryRun ? simulate(placementOf(shards, view.topology), finished) : placementOf(shards, view.topology);
  const keys = await keysPerSlot(view, placementOf(shards, view.topology));
  let plan: SlotMove[];
  try {
    plan = planBalance(current, (slot) => keys.get(slot) ?? 0);
  } catch (err) {
    throw new FacefleetError('E_REDIS', `cannot balance: ${(err as Error).message}`, { cause: err });
  }
  const moves: MoveReport[] = [];
  for (const move of plan) {
    if (!options.dryRun) options.onMove?.(move, false);
    moves.push({ ...move, keys: options.dryRun ? keys.get(move.slot) ?? 0 : await run(view, move, options) });
  }
  if (options.dryRun) return { before, after: simulate(current, plan), finished, moves };
  const after = plan.length === 0 ? current : placementOf(shards, (await readCluster(cluster)).topology);
  return { before, after, finished, moves };
}

/** Refuses a cluster with a failing master: a slot cannot be moved to or from it, and its shards would be counted nowhere. */
function healthy(topology: ClusterTopology): void {
  if (topology.failing.length > 0) throw new FacefleetError('E_REDIS', `master(s) ${topology.failing.join(', ')} flagged as failing: wait until the cluster is healthy (CLUSTER INFO cluster_state:ok, no fail flags)`);
}

/** Keys still on the source of an unfinished move. */
async function countKeys(view: ClusterView, o: OpenMove): Promise<number> {
  const from = view.clients.get(o.from);
  try {
    return from ? Number(await from.client.call('CLUSTER', 'COUNTKEYSINSLOT', String(o.slot))) : 0;
  } catch (err) {
    throw new FacefleetError('E_REDIS', `counting the keys of slot ${o.slot}: ${(err as Error).message}`, { cause: err });
  }
}

async function run(view: ClusterView, move: SlotMove, options: MoveSlotOptions): Promise<number> {
  const from = view.clients.get(move.from);
  const to = view.clients.get(move.to);
  if (!from || !to) throw new FacefleetError('E_REDIS', `slot ${move.slot}: master ${!from ? move.from : move.to} is not among the masters that serve slots`);
  try {
    return await moveSlot(move.slot, from, to, [...view.clients.values()], options);
  } catch (err) {
    throw new FacefleetError('E_REDIS', `moving slot ${move.slot} from ${from.address} to ${to.address}: ${(err as Error).message}; the slot is left open: run shards balance again to finish it`, { cause: err });
  }
}

/** The placement the moves would give. */
function simulate(placement: Placement, moves: readonly SlotMove[]): Placement {
  const to = new Map(moves.map((m) => [m.slot, m.to]));
  const shards = placement.shards.map((s) => ({ ...s, master: to.get(s.slot) ?? s.master }));
  const perMaster = placement.masters.map((m) => shards.filter((s) => s.master === m.id).length);
  return { ...placement, shards, perMaster, even: shards.every((s) => s.master !== undefined) && isEven(perMaster) };
}
