import os from 'node:os';
import { z } from 'zod';
import { parseLocation } from '../storage/location';
import { ALLOWED_LOCATIONS_PATTERN, allowedLocationsField, checkQueueLayout, LOG_OPTIONS, MODEL_OPTIONS, QUEUE_OPTIONS } from './common';
import { ConfigOf, defineOptions } from './option-spec';
import { bool, configError, Env, int, parseConfig, sourceOf, withSources } from './parse';

/**
 * The options of `facefleet worker`, each declared once: the CLI flags, the README table and the
 * chart's `values.schema.json` (`config`) are generated from this table.
 */
export const WORKER_OPTIONS = defineOptions({
  ...QUEUE_OPTIONS,
  /**
   * The shards this worker takes jobs from, comma-separated indexes and ranges (`0-3,6`), each below
   * `shards`; unset takes every shard. Lets a fleet be split across clusters or node pools, each
   * consuming its own part of the queue. @defaultValue every shard (env `FACEFLEET_SHARD_IDS`)
   */
  shardIds: {
    flag: '--shard-ids <list>',
    env: 'FACEFLEET_SHARD_IDS',
    defaultText: 'every shard',
    help: 'shards to take jobs from: comma-separated indexes and ranges, e.g. 0-3,6',
    doc: 'the shards this worker takes jobs from, comma-separated indexes and ranges (`0-3,6`), each below `--shards`; lets a fleet be split across clusters or node pools',
    schema: z
      .string()
      .regex(/^\d{1,4}(-\d{1,4})?(,\d{1,4}(-\d{1,4})?)*$/, 'expected comma-separated shard indexes or ranges such as 0-3,6')
      .transform(parseShardIds)
      .refine((ids) => ids.length > 0, { message: 'expected ranges from low to high, such as 0-3' }),
    chart: { key: 'shardIds', description: 'shards to take jobs from (comma-separated indexes and ranges); empty takes every shard' },
  },
  ...MODEL_OPTIONS,
  /** Jobs held at once; 0 derives 3 × batch so the batcher stays fed while results upload. @defaultValue 0 (env `FACEFLEET_CONCURRENCY`) */
  concurrency: {
    flag: '--concurrency <n>',
    env: 'FACEFLEET_CONCURRENCY',
    default: 0,
    defaultText: '0 (= 3 × batch)',
    help: 'jobs held at once',
    doc: 'jobs held at once; enough to keep the batcher fed while results upload',
    schema: int(0, 10_000),
    chart: { key: 'concurrency', description: 'jobs held at once; 0 = 3 x batch' },
  },
  /** Port of `/metrics`, `/healthz`, `/readyz`; 0 disables. @defaultValue 9464 (env `FACEFLEET_METRICS_PORT`) */
  metricsPort: {
    flag: '--metrics-port <port>',
    env: 'FACEFLEET_METRICS_PORT',
    default: 9464,
    help: 'port of /metrics, /healthz, /readyz (0 disables)',
    doc: '`/metrics`, `/healthz`, `/readyz`; `0` disables',
    schema: int(0, 65535),
  },
  /** Address the metrics server binds. @defaultValue `0.0.0.0` (env `FACEFLEET_METRICS_HOST`) */
  metricsHost: { flag: '--metrics-host <addr>', env: 'FACEFLEET_METRICS_HOST', default: '0.0.0.0', help: 'address the metrics server binds', schema: z.string().min(1) },
  /** Shutdown deadline, ms (below Kubernetes' 30 s grace period). @defaultValue 25000 (env `FACEFLEET_DRAIN_TIMEOUT_MS`) */
  drainTimeoutMs: {
    flag: '--drain-timeout-ms <ms>',
    env: 'FACEFLEET_DRAIN_TIMEOUT_MS',
    default: 25_000,
    unit: 'ms',
    help: 'shutdown deadline (keep below the pod grace period)',
    doc: "shutdown deadline, below Kubernetes' 30 s grace period",
    schema: int(1000, 3_600_000),
    chart: { key: 'drainTimeoutMs', description: 'shutdown deadline, ms' },
  },
  /** BullMQ lock duration, ms; renewed from the main thread while a batch runs. @defaultValue 60000 (env `FACEFLEET_LOCK_DURATION_MS`) */
  lockDurationMs: {
    flag: '--lock-duration-ms <ms>',
    env: 'FACEFLEET_LOCK_DURATION_MS',
    default: 60_000,
    unit: 'ms',
    help: 'BullMQ job lock duration',
    doc: 'BullMQ job lock, renewed from the main thread while batches run',
    schema: int(5_000, 3_600_000),
    chart: { key: 'lockDurationMs', description: 'BullMQ job lock, ms' },
  },
  /**
   * How often BullMQ looks for stalled jobs (held by a worker that died), ms. A dead worker's jobs
   * return to waiting once their locks have expired and two checks have passed; BullMQ runs at most one
   * check per interval for the whole queue and may skip one, so allow `lockDurationMs` plus 2 to 4
   * intervals. @defaultValue 30000 (env `FACEFLEET_STALLED_INTERVAL_MS`)
   */
  stalledIntervalMs: {
    flag: '--stalled-interval-ms <ms>',
    env: 'FACEFLEET_STALLED_INTERVAL_MS',
    default: 30_000,
    unit: 'ms',
    help: 'how often jobs held by dead workers are looked for and requeued',
    doc: "how often BullMQ looks for jobs of dead workers; a killed worker's jobs return after at most two intervals",
    schema: int(1_000, 3_600_000),
    chart: { key: 'stalledIntervalMs', description: 'how often jobs of dead workers are looked for, ms' },
  },
  /** Worker id written into results and logs. @defaultValue `<hostname>-<pid>` (env `FACEFLEET_WORKER_ID`) */
  workerId: {
    flag: '--worker-id <id>',
    env: 'FACEFLEET_WORKER_ID',
    default: () => `${os.hostname()}-${process.pid}`,
    defaultText: '<hostname>-<pid>',
    help: 'worker id in results and logs',
    doc: 'written into results and logs',
    schema: z.string().min(1).max(200),
  },
  /** Attempts for transient errors. @defaultValue 5 (env `FACEFLEET_ATTEMPTS`) */
  attempts: { flag: '--attempts <n>', env: 'FACEFLEET_ATTEMPTS', default: 5, help: 'attempts for transient errors', schema: int(1, 100), chart: { key: 'attempts' } },
  /**
   * Folders `file://` sources and results must lie in, comma-separated absolute paths, matched by
   * whole path segments (`/srv/out` does not contain `/srv/out-evil`); unset turns `file://` off, so a
   * job cannot read or write the host's files unless the operator named the folders. (env `FACEFLEET_FILE_ROOTS`)
   */
  fileRoots: {
    flag: '--file-roots <dirs>',
    env: 'FACEFLEET_FILE_ROOTS',
    defaultText: '(none: file:// off)',
    help: 'comma-separated folders file:// jobs may read and write',
    doc:
      'comma-separated folders that `file://` jobs may read and write, matched by whole path segments (`/srv/out` does not contain `/srv/out-evil`); without it every `file://` job fails `E_BAD_KEY`, so a job cannot touch the host\'s files (outside the roots: `E_BAD_KEY`; symlinks cannot lead out; `/`, `..` or empty segments refused at start)',
    schema: z
      .string()
      .regex(/^\/[^,]*(,\/[^,]*)*$/, 'expected comma-separated absolute paths')
      .transform((v) => v.split(','))
      .refine((roots) => roots.every(isFolderPath), { message: 'expected absolute paths without ".", ".." or empty segments' })
      .refine((roots) => !roots.some(isFileSystemRoot), { message: '"/" is the whole file system, not a root: name the folders jobs may read and write' }),
    chart: { key: 'fileRoots', description: 'comma-separated absolute folders file:// jobs may use, matched by whole path segments; empty turns file:// off' },
  },
  /**
   * Locations jobs may read from and write to, comma-separated: `s3://bucket`, `s3://bucket/prefix`
   * (exact bucket names, whole key segments) and `file:///abs/dir` (added to `fileRoots`). With no
   * `s3://` entry, any bucket the credentials reach is allowed; a job naming a location outside the
   * list fails with `E_BAD_KEY` before any request. @defaultValue none (env `FACEFLEET_ALLOWED_LOCATIONS`)
   */
  allowedLocations: {
    flag: '--allowed-locations <list>',
    env: 'FACEFLEET_ALLOWED_LOCATIONS',
    default: '',
    defaultText: '(none: any bucket)',
    help: 'comma-separated s3://bucket[/prefix] and file:///DIR locations jobs may read and write',
    doc:
      'comma-separated `s3://bucket`, `s3://bucket/prefix` and `file:///DIR` locations jobs may read and write; bucket names match exactly (`s3://photos` does not allow `s3://photos-private`) and prefixes by whole segments; a job outside them fails `E_BAD_KEY` before any request; `file:///` entries add to `--file-roots`',
    schema: allowedLocationsField(),
    chart: {
      key: 'allowedLocations',
      description: 'comma-separated s3://bucket[/prefix] and file:///DIR locations jobs may use (exact bucket names, whole key segments); empty allows any bucket',
      schema: { type: 'string', pattern: ALLOWED_LOCATIONS_PATTERN },
    },
  },
  /**
   * Skip images whose result matches their ETag and model version even when the job did not ask
   * (as if every job had `incremental: true`). @defaultValue false (env `FACEFLEET_FORCE_INCREMENTAL`)
   */
  forceIncremental: {
    flag: '--force-incremental',
    env: 'FACEFLEET_FORCE_INCREMENTAL',
    default: false,
    help: 'skip images whose result exists for the same ETag and model version, even when the job did not ask',
    doc: 'complete as `skipped` every image whose result exists for the same source ETag, model id and version, as if every job were enqueued with `--incremental`',
    schema: bool(),
    chart: { key: 'forceIncremental', description: 'skip images with an up-to-date result even when the job did not ask', schema: { type: 'boolean' } },
  },
  ...LOG_OPTIONS,
});

/** `0-3,6` → `[0, 1, 2, 3, 6]`: sorted, without repeats; a range from high to low adds nothing. */
export function parseShardIds(list: string): number[] {
  const ids = new Set<number>();
  for (const part of list.split(',')) {
    const [low, high = low] = part.split('-').map(Number);
    for (let i = low; i <= high; i++) ids.add(i);
  }
  return [...ids].sort((a, b) => a - b);
}

/** True for `/`, `/a/b` or `/a/b/`: a path a file store can be rooted at. */
function isFolderPath(root: string): boolean {
  try {
    parseLocation(`file://${root.replace(/\/+$/, '/')}`);
    return true;
  } catch {
    return false;
  }
}

/** True for `/` (or `//`…): a "root" that confines nothing. */
export function isFileSystemRoot(root: string): boolean {
  return /^\/+$/.test(root.trim());
}

/** Worker settings, validated and frozen, with the concurrency derived once. */
export type WorkerConfig = ConfigOf<typeof WORKER_OPTIONS> & {
  /** Jobs held at once: `concurrency`, or 3 × `batch` when it is 0. */
  effectiveConcurrency: number;
  /** The shards consumed: `shardIds`, or every shard. */
  consumedShards: readonly number[];
};

/** Builds the worker config from flags and environment; throws `E_CONFIG` with every bad field. */
export function loadWorkerConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<WorkerConfig> {
  const parsed = parseConfig(WORKER_OPTIONS, flags, env);
  checkQueueLayout(parsed, WORKER_OPTIONS, flags, env);
  const outside = parsed.shardIds?.filter((id) => id >= parsed.shards) ?? [];
  if (outside.length > 0) {
    const from = (key: string) => sourceOf(WORKER_OPTIONS, key, flags, env);
    throw configError([`shardIds (${from('shardIds')}): expected indexes below shards (${parsed.shards}, ${from('shards')}); given ${outside.join(', ')}`]);
  }
  const consumedShards = Object.freeze(parsed.shardIds ?? Array.from({ length: parsed.shards }, (_, i) => i));
  return withSources(Object.freeze({ ...parsed, effectiveConcurrency: parsed.concurrency || parsed.batch * 3, consumedShards }), parsed);
}
