import clusterKeySlot from 'cluster-key-slot';

/** Hash slots of a Redis Cluster: 0 to 16383. */
export const CLUSTER_SLOTS = 16384;

/**
 * The hash slot of a key, as `CLUSTER KEYSLOT` answers (CRC16 of its hash tag, modulo 16384), by
 * `cluster-key-slot`, the function ioredis routes every command with. Every key of a shard
 * (`bull:{facefleet-3}:wait`, its jobs, its run records) has the slot of the shard's tag.
 */
export function keySlot(key: string): number {
  return clusterKeySlot(key);
}
