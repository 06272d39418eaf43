import type { Redis } from 'ioredis';
import { parseClusterNodes } from './cluster-topology';
import type { MasterNode } from './cluster-topology';
import { redisErrorCode } from './connection';

/** A master and a direct (not cluster-routed) connection to it. */
export interface MasterClient extends MasterNode {
  client: Redis;
}

/** Settings of {@link moveSlot}. */
export interface MoveSlotOptions {
  /** Keys per `MIGRATE`. @defaultValue 1000 */
  batch?: number;
  /** `MIGRATE`'s timeout: the longest the source waits on the target for one batch, ms. @defaultValue 60000 */
  timeoutMs?: number;
  /** Credentials the source presents to the target (the cluster's, from the Redis URL). */
  auth?: { username?: string; password: string };
  /** Called after every batch with the keys moved so far. */
  onKeys?: (moved: number) => void;
}

/** What a node says about one slot in its own line of `CLUSTER NODES`. */
interface SlotState {
  owns: boolean;
  migratingTo?: string;
  importingFrom?: string;
}

async function slotState(node: MasterClient, slot: number): Promise<SlotState> {
  const self = parseClusterNodes(String(await node.client.call('CLUSTER', 'NODES'))).find((n) => n.myself);
  if (!self) return { owns: false };
  return { owns: self.ranges.some(([lo, hi]) => slot >= lo && slot <= hi), migratingTo: self.migrating.get(slot), importingFrom: self.importing.get(slot) };
}

/**
 * Moves one hash slot, keys and all, from master `from` to master `to` while clients keep using it:
 * the live migration Redis Cluster defines. The target is set `IMPORTING` and the source `MIGRATING`;
 * the source then hands its keys of the slot over with `MIGRATE` in batches. Meanwhile the source
 * still serves what it holds, answers `ASK` for keys already gone (cluster clients such as ioredis and
 * redis-py follow it to the target) and `TRYAGAIN` for a command whose keys are split between the two
 * (retried by the client). Once the source holds none, `SETSLOT … NODE` gives the slot to the target,
 * on the target first (it bumps its epoch, so the change wins), then the source, then every other
 * master in `masters`; clients then get `MOVED` and follow, blocked ones included.
 *
 * Each step looks at the nodes' own state first, so a move interrupted at any point is finished by
 * calling this again with the same `from` and `to`. A key the target already holds (a batch whose
 * transfer arrived but whose deletion on the source did not) is replaced by the source's copy, the one
 * clients kept using. Resolves with the keys moved; a Redis failure rejects, leaving the slot open for
 * the next call to finish.
 */
export async function moveSlot(slot: number, from: MasterClient, to: MasterClient, masters: readonly MasterClient[], options: MoveSlotOptions = {}): Promise<number> {
  const target = await slotState(to, slot);
  if (!target.owns && target.importingFrom !== from.id) await to.client.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id);
  const source = await slotState(from, slot);
  if (source.owns && source.migratingTo !== to.id) await from.client.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id);

  let moved = await migrateKeys(slot, from, to, options);
  await to.client.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
  // The source refuses to give a slot away while it holds keys of it; none can appear once it is
  // empty (a command whose keys it lacks is sent on with ASK), but look again rather than assume.
  for (;;) {
    try {
      await from.client.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
      break;
    } catch (err) {
      const left = Number(await from.client.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)));
      if (left === 0) throw err;
      moved += await migrateKeys(slot, from, to, options);
    }
  }
  for (const m of masters) if (m.id !== from.id && m.id !== to.id) await m.client.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
  return moved;
}

/** Hands every key the source holds in `slot` to the target, `batch` keys per `MIGRATE`. */
async function migrateKeys(slot: number, from: MasterClient, to: MasterClient, options: MoveSlotOptions): Promise<number> {
  const batch = options.batch ?? 1000;
  const auth = options.auth ? (options.auth.username ? ['AUTH2', options.auth.username, options.auth.password] : ['AUTH', options.auth.password]) : [];
  const migrate = (keys: Buffer[], replace: boolean) =>
    from.client.callBuffer('MIGRATE', to.host, String(to.port), '', '0', String(options.timeoutMs ?? 60_000), ...(replace ? ['REPLACE'] : []), ...auth, 'KEYS', ...keys);
  let moved = 0;
  for (;;) {
    // Buffers: keys of other applications that share the slot need not be valid UTF-8.
    const keys = (await from.client.callBuffer('CLUSTER', 'GETKEYSINSLOT', String(slot), String(batch))) as Buffer[];
    if (keys.length === 0) return moved;
    try {
      await migrate(keys, false);
    } catch (err) {
      if (redisErrorCode(err) !== 'BUSYKEY') throw err;
      await migrate(keys, true);
    }
    moved += keys.length;
    options.onKeys?.(moved);
  }
}
