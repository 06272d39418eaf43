import { checkQueueLayout, QUEUE_OPTIONS } from './common';
import { ConfigOf, defineOptions } from './option-spec';
import { bool, Env, int, parseConfig } from './parse';

/** The options of `facefleet shards` (the listing). */
export const SHARDS_LIST_OPTIONS = defineOptions({
  ...QUEUE_OPTIONS,
  /** Machine-readable output. @defaultValue false */
  json: { flag: '--json', default: false, help: 'machine-readable output', schema: bool() },
});

/** The options of `facefleet shards balance`. */
export const SHARDS_BALANCE_OPTIONS = defineOptions({
  ...SHARDS_LIST_OPTIONS,
  /** Print the slot moves that would even the placement, and move nothing. @defaultValue false */
  dryRun: { flag: '--dry-run', default: false, help: 'print the slot moves and make none', schema: bool() },
  /**
   * Keys handed over per `MIGRATE` while a slot moves. Larger batches finish a slot sooner (clients
   * meet `TRYAGAIN` on a slot only while it moves); each batch blocks the source master while it
   * transfers. @defaultValue 1000
   */
  batch: { flag: '--batch <keys>', default: 1000, unit: 'keys', help: 'keys per MIGRATE while a slot moves', schema: int(1, 100_000) },
  /**
   * `MIGRATE`'s timeout: how long the source master waits on the target for one batch before the move
   * stops (left open; running again finishes it). @defaultValue 60000 ms
   */
  migrateTimeoutMs: { flag: '--migrate-timeout-ms <ms>', default: 60_000, unit: 'ms', help: "MIGRATE's timeout for one batch", schema: int(100, 3_600_000) },
});

/** `facefleet shards [balance]` settings: the balance options unset for the listing. */
export type ShardsConfig = ConfigOf<typeof SHARDS_LIST_OPTIONS> & Partial<ConfigOf<typeof SHARDS_BALANCE_OPTIONS>>;

/** Builds `facefleet shards [balance]` settings; throws `E_CONFIG` naming every bad field. */
export function loadShardsConfig(action: 'list' | 'balance', flags: Record<string, unknown>, env: Env = process.env): Readonly<ShardsConfig> {
  const table = action === 'balance' ? SHARDS_BALANCE_OPTIONS : SHARDS_LIST_OPTIONS;
  const config = parseConfig(table, flags, env);
  checkQueueLayout(config, table, flags, env);
  return config;
}
