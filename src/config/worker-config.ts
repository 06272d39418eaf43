import os from 'node:os';
import { z } from 'zod';
import { allowedLocationsField, commonEnv, modelFields, queueFields } from './common';
import { bool, int, parseConfig } from './parse';
import { parseLocation } from '../storage/location';

const workerSchema = z.object({
  ...queueFields,
  ...modelFields,
  /** Jobs held at once; 0 derives 3 × batch so the batcher stays fed while results upload. @defaultValue 0 */
  concurrency: int(0, 10_000).default(0),
  /** Port of `/metrics`, `/healthz`, `/readyz`; 0 disables. @defaultValue 9464 (env `FACEFLEET_METRICS_PORT`) */
  metricsPort: int(0, 65535).default(9464),
  /** Address the metrics server binds. @defaultValue `0.0.0.0` (env `FACEFLEET_METRICS_HOST`) */
  metricsHost: z.string().min(1).default('0.0.0.0'),
  /** Shutdown deadline in ms (below Kubernetes' 30 s grace period). @defaultValue 25000 (env `FACEFLEET_DRAIN_TIMEOUT_MS`) */
  drainTimeoutMs: int(1000, 3_600_000).default(25_000),
  /** BullMQ lock duration in ms; renewed from the main thread while a batch runs. @defaultValue 60000 */
  lockDurationMs: int(5_000, 3_600_000).default(60_000),
  /**
   * How often BullMQ looks for stalled jobs (held by a worker that died), in ms. A dead worker's jobs
   * return to waiting once their locks have expired and two checks have passed; BullMQ runs at most one
   * check per interval for the whole queue and may skip one, so allow `lockDurationMs` plus 2 to 4
   * intervals. @defaultValue 30000 (env `FACEFLEET_STALLED_INTERVAL_MS`)
   */
  stalledIntervalMs: int(1_000, 3_600_000).default(30_000),
  /** Worker id written into results and logs. @defaultValue `<hostname>-<pid>` (env `FACEFLEET_WORKER_ID`) */
  workerId: z.string().min(1).max(200).default(`${os.hostname()}-${process.pid}`),
  /** Retry attempts for transient errors. @defaultValue 5 */
  attempts: int(1, 100).default(5),
  /**
   * Folders `file://` sources and results must lie in, comma-separated absolute paths, matched by
   * whole path segments (`/srv/out` does not contain `/srv/out-evil`); unset turns `file://` off, so a
   * job cannot read or write the host's files unless the operator named the folders. (env `FACEFLEET_FILE_ROOTS`)
   */
  fileRoots: z
    .string()
    .regex(/^\/[^,]*(,\/[^,]*)*$/, 'expected comma-separated absolute paths')
    .transform((v) => v.split(','))
    .refine((roots) => roots.every(isFolderPath), { message: 'expected absolute paths without ".", ".." or empty segments' })
    .refine((roots) => !roots.some(isFileSystemRoot), { message: '"/" is the whole file system, not a root: name the folders jobs may read and write' })
    .optional(),
  /**
   * Locations jobs may read from and write to, comma-separated: `s3://bucket`, `s3://bucket/prefix`
   * (exact bucket names, whole key segments) and `file:///abs/dir` (added to `fileRoots`). With no
   * `s3://` entry, any bucket the credentials reach is allowed; a job naming a location outside the
   * list fails with `E_BAD_KEY` before any request. (env `FACEFLEET_ALLOWED_LOCATIONS`)
   */
  allowedLocations: allowedLocationsField(),
  /** Skip images whose result matches their ETag and model version even if the job did not ask. @defaultValue false */
  forceIncremental: bool().default(false),
});

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

/** Worker settings, validated and frozen. */
export type WorkerConfig = z.output<typeof workerSchema> & { effectiveConcurrency: number };

/** Builds the worker config from flags and environment; throws `E_CONFIG` with every bad field. */
export function loadWorkerConfig(flags: Record<string, unknown>, env: Record<string, string | undefined> = process.env): Readonly<WorkerConfig> {
  const parsed = parseConfig(workerSchema, flags, env, {
    ...commonEnv,
    concurrency: 'FACEFLEET_CONCURRENCY',
    metricsPort: 'FACEFLEET_METRICS_PORT',
    metricsHost: 'FACEFLEET_METRICS_HOST',
    drainTimeoutMs: 'FACEFLEET_DRAIN_TIMEOUT_MS',
    lockDurationMs: 'FACEFLEET_LOCK_DURATION_MS',
    stalledIntervalMs: 'FACEFLEET_STALLED_INTERVAL_MS',
    workerId: 'FACEFLEET_WORKER_ID',
    fileRoots: 'FACEFLEET_FILE_ROOTS',
    allowedLocations: 'FACEFLEET_ALLOWED_LOCATIONS',
    attempts: 'FACEFLEET_ATTEMPTS',
  });
  return Object.freeze({ ...parsed, effectiveConcurrency: parsed.concurrency || parsed.batch * 3 });
}
