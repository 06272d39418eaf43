import { z } from 'zod';
import { MAX_SHARDS } from '../queue/shards';
import { parseLocation } from '../storage/location';
import { CPU_DEFAULT_BATCH, GPU_DEFAULT_BATCH, defaultInferenceThreads, prefersGpu } from './device-defaults';
import { usableCores } from '../host/cpu-quota';
import { defineOptions, OptionTable } from './option-spec';
import { bool, configError, Env, int, sourceOf } from './parse';

/** The models a worker can run. */
export const MODEL_IDS = ['retinaface', 'blazeface', 'mogface'] as const;

/** Queue location options shared by every command that talks to Redis. */
export const QUEUE_OPTIONS = defineOptions({
  /** Redis URL. @defaultValue `redis://127.0.0.1:6379` (env `REDIS_URL`) */
  redisUrl: {
    flag: '--redis-url <url>',
    env: 'REDIS_URL',
    default: 'redis://127.0.0.1:6379',
    help: 'Redis URL',
    doc: 'Redis URL (`rediss://` for TLS)',
    schema: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'),
  },
  /**
   * Treat the host of `redisUrl` as a seed node of a Redis Cluster: the other nodes are discovered
   * from it, and the URL's user and password (and TLS with `rediss://`) apply to every node. The queue's
   * keys must then share hash tags: split it with `shards`, or give one shard a tag in `redisPrefix`.
   * @defaultValue false (env `FACEFLEET_REDIS_CLUSTER`)
   */
  redisCluster: {
    flag: '--redis-cluster',
    env: 'FACEFLEET_REDIS_CLUSTER',
    default: false,
    help: "Redis is a Redis Cluster: --redis-url's host is a seed node",
    doc: "Redis is a Redis Cluster: `--redis-url` names one seed node (its user and password apply to every node); see [Scaling past one Redis](#scaling-past-one-redis)",
    schema: bool(),
  },
  /** Queue name. @defaultValue `facefleet` (env `FACEFLEET_QUEUE`) */
  queue: {
    flag: '--queue <name>',
    env: 'FACEFLEET_QUEUE',
    default: 'facefleet',
    help: 'queue name',
    schema: z.string().regex(/^[A-Za-z0-9._{}-]{1,100}$/, 'expected letters, digits, . _ - { }'),
    chart: { key: 'queue' },
  },
  /** BullMQ key prefix; `{facefleet}` for Redis Cluster. @defaultValue `bull` (env `FACEFLEET_REDIS_PREFIX`) */
  redisPrefix: {
    flag: '--redis-prefix <prefix>',
    env: 'FACEFLEET_REDIS_PREFIX',
    default: 'bull',
    help: 'BullMQ key prefix ({facefleet} for Redis Cluster)',
    doc: 'BullMQ key prefix; `{facefleet}` keeps every key in one Redis Cluster slot',
    schema: z.string().regex(/^[^\s:]{1,100}$/, 'expected a prefix without spaces or colons'),
    chart: { key: 'redisPrefix', description: 'BullMQ key prefix' },
  },
  /**
   * BullMQ queues the queue is split into, each under its own hash tag (`{facefleet-0}` …), so a Redis
   * Cluster spreads them over its masters; producers send each image to `sha256(source) mod shards`.
   * Every producer, worker and admin command of a queue must give the same number (the first records it
   * in Redis; others are refused). 1 keeps the queue as it always was. @defaultValue 1 (env `FACEFLEET_SHARDS`)
   */
  shards: {
    flag: '--shards <n>',
    env: 'FACEFLEET_SHARDS',
    default: 1,
    help: 'BullMQ queues the queue is split into, one hash tag each (same on every producer and worker)',
    doc: 'BullMQ queues the queue is split into, `{<queue>-0}` … `{<queue>-N-1}`, one hash tag each so a Redis Cluster spreads them over its masters; the same on every producer, worker and admin command (the first records it; others are refused with `E_CONFIG`); `1` keeps the queue\'s keys as they are',
    schema: int(1, MAX_SHARDS),
    chart: { key: 'shards', description: 'BullMQ queues the queue is split into (the same for producers and workers)' },
  },
});

/** The queue layout a config names: where, how split, and on what kind of Redis. */
interface QueueLayout {
  queue: string;
  redisPrefix: string;
  shards: number;
  redisCluster: boolean;
}

/** True when keys `<prefix>:<queue>:…` carry a Redis Cluster hash tag (a non-empty `{…}`, the first one). */
export function hasHashTag(prefix: string, queue: string): boolean {
  const key = `${prefix}:${queue}:`;
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1;
}

/**
 * What is wrong with a queue layout, one line per problem naming the field and its source: a split
 * queue whose prefix or name already holds a hash tag (every shard would share one slot), and an
 * unsplit queue on a Redis Cluster without one (BullMQ's scripts would touch several slots).
 */
export function queueLayoutProblems(config: QueueLayout, from: (key: keyof QueueLayout) => string): string[] {
  const problems: string[] = [];
  if (config.shards > 1) {
    for (const key of ['redisPrefix', 'queue'] as const) {
      if (/[{}]/.test(config[key])) {
        problems.push(`${key} (${from(key)}): with shards > 1 (${config.shards}, ${from('shards')}) each shard's queue name is its own hash tag ({${config.queue.replace(/[{}]/g, '')}-0} …), and braces here would put every shard in one slot: expected no { }; given ${JSON.stringify(config[key])}`);
      }
    }
  } else if (config.redisCluster && !hasHashTag(config.redisPrefix, config.queue)) {
    problems.push(`redisPrefix (${from('redisPrefix')}): on a Redis Cluster (${from('redisCluster')}) the keys of an unsplit queue must share one slot: expected a hash tag such as '{facefleet}', or shards > 1; given ${JSON.stringify(config.redisPrefix)} with queue ${JSON.stringify(config.queue)}`);
  }
  return problems;
}

/**
 * Throws `E_CONFIG` when the queue layout of a parsed config is inconsistent (see
 * {@link queueLayoutProblems}); the sources come from `table`, `flags` and `env`.
 */
export function checkQueueLayout(config: QueueLayout, table: OptionTable, flags: Record<string, unknown>, env: Env): void {
  const problems = queueLayoutProblems(config, (key) => sourceOf(table, key, flags, env));
  if (problems.length > 0) throw configError(problems);
}

/** Options of commands that create run records (enqueue, serve). */
export const RUN_OPTIONS = defineOptions({
  /**
   * Days a run record (progress, counts, failures by code) is kept after its last change; it then
   * expires from Redis and from `facefleet runs`. The jobs and results are not affected.
   * @defaultValue 30 (env `FACEFLEET_RUN_TTL_DAYS`)
   */
  runTtlDays: {
    flag: '--run-ttl-days <days>',
    env: 'FACEFLEET_RUN_TTL_DAYS',
    default: 30,
    unit: 'days',
    help: 'days the run record is kept after its last change',
    doc: 'the run record (counts, failures by code) expires this long after its last change; jobs and results are not touched',
    schema: z.coerce.number().positive().max(3650),
  },
});

/** The retention of completed jobs, set by whoever enqueues (enqueue, serve). */
export const RETENTION_OPTIONS = defineOptions({
  /**
   * Completed jobs kept per shard (the newest), for the queue board and the `completed` queue gauge; 0
   * removes each job as it completes, which saves redis-server about 20 µs of CPU per image (some 15 %
   * of a job's processing cost, measured by scripts/redis-cost.js). Results, run counts and throughput
   * do not depend on it. @defaultValue 1000 (env `FACEFLEET_KEEP_COMPLETED`)
   */
  keepCompleted: {
    flag: '--keep-completed <n>',
    env: 'FACEFLEET_KEEP_COMPLETED',
    default: 1000,
    help: 'completed jobs kept per shard for the board (0 removes each at once: less Redis CPU per image)',
    doc: 'completed jobs kept per shard, for the queue board and the `completed` gauge; `0` removes each job as it completes, about 20 µs less redis-server CPU per image (see [Scaling past one Redis](#scaling-past-one-redis)); results, run counts and throughput do not depend on it',
    schema: int(0, 10_000_000),
  },
});

/** Seconds of a `runTtlDays` value (at least one). */
export function runTtlSeconds(days: number): number {
  return Math.max(1, Math.round(days * 86_400));
}

/** The logging option of long-running commands (worker, serve, demo). */
export const LOG_OPTIONS = defineOptions({
  /** pino level of the JSON log lines on stderr. @defaultValue `info` (env `FACEFLEET_LOG_LEVEL`) */
  logLevel: {
    flag: '--log-level <level>',
    env: 'FACEFLEET_LOG_LEVEL',
    default: 'info',
    help: 'level of the JSON log lines on stderr',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    chart: { key: 'logLevel', description: 'pino level' },
  },
});

/** Model, decode and inference options shared by worker, serve, detect, demo, eval and bench. */
export const MODEL_OPTIONS = defineOptions({
  /** Model id. @defaultValue `retinaface` (env `FACEFLEET_MODEL`) */
  model: {
    flag: '--model <id>',
    env: 'FACEFLEET_MODEL',
    default: 'retinaface',
    help: 'model id',
    doc: '`retinaface`, `blazeface` or `mogface` (see [Models](#models))',
    schema: z.enum(MODEL_IDS),
    chart: { key: 'model', description: 'model id' },
  },
  /** ONNX file; required for mogface, pulled automatically for retinaface and blazeface. (env `FACEFLEET_MODEL_PATH`) */
  modelPath: {
    flag: '--model-path <file>',
    env: 'FACEFLEET_MODEL_PATH',
    defaultText: 'the built-in model, pulled on first use',
    help: 'ONNX file (required for mogface)',
    doc: 'ONNX file; required for `mogface`',
    schema: z.string().min(1),
    chart: { key: 'modelPath', description: 'ONNX file; required for mogface' },
  },
  /**
   * Canvas side for models with a dynamic input (RetinaFace, MogFace), px. The default is both models'
   * own input size (RetinaFace's manifest, every MogFace export's `defaultCanvas`), on CPU and GPU alike.
   * @defaultValue 640 (env `FACEFLEET_CANVAS`)
   */
  canvas: {
    flag: '--canvas <px>',
    env: 'FACEFLEET_CANVAS',
    default: 640,
    unit: 'px',
    help: 'canvas side for models with a dynamic input size (retinaface, mogface)',
    doc: "canvas side for models with a dynamic input size (`retinaface`, `mogface`); the default is the models' own input size, on CPU and GPU alike (`blazeface` is fixed at 256)",
    schema: int(64, 4096),
    chart: { key: 'canvas', description: 'letterbox canvas side, px' },
  },
  /**
   * Most extra tiles per large photo, each a canvas-sized window at a finer scale, merged with the
   * whole-image view by NMS: finds small faces in big photos at (1 + tiles)× the inference cost;
   * 0 turns tiling off. @defaultValue the model's: 4 for RetinaFace, 0 for BlazeFace (a close-range
   * model, chosen for speed) and MogFace (seconds per canvas) (env `FACEFLEET_MAX_TILES`)
   */
  maxTiles: {
    flag: '--max-tiles <n>',
    env: 'FACEFLEET_MAX_TILES',
    defaultText: "the model's (4 for retinaface, 0 for blazeface and mogface)",
    help: 'most extra tiles per large photo, for small faces (0 = whole image only)',
    doc: 'most extra canvas-sized tiles per large photo, for small faces; `0` = whole image only (see [Small faces](#small-faces-in-large-photos))',
    schema: int(0, 64),
    chart: { key: 'maxTiles', description: 'extra tiles per large photo (0 = none)' },
  },
  /**
   * Images per inference batch. Unset, it is {@link CPU_DEFAULT_BATCH} (1) on a CPU, or
   * {@link GPU_DEFAULT_BATCH} (32) when `cuda` or `tensorrt` comes first in `providers`: a GPU gains
   * from batching, a CPU does not (docs/benchmarks.md). @defaultValue 1; 32 on a GPU (env `FACEFLEET_BATCH`)
   */
  batch: {
    flag: '--batch <n>',
    env: 'FACEFLEET_BATCH',
    defaultText: `${CPU_DEFAULT_BATCH} on a CPU, ${GPU_DEFAULT_BATCH} on a GPU`,
    help: 'images per inference batch',
    doc: `images per \`session.run\`; unset, ${CPU_DEFAULT_BATCH} on a CPU (batching saves a CPU nothing and costs memory) and ${GPU_DEFAULT_BATCH} when \`cuda\` or \`tensorrt\` comes first in \`--providers\` (a GPU gains from batching); chosen by measurement ([docs/benchmarks.md](docs/benchmarks.md))`,
    schema: int(1, 256),
    derive: (c) => (prefersGpu((c.providers as string[] | undefined) ?? []) ? GPU_DEFAULT_BATCH : CPU_DEFAULT_BATCH),
    chart: { key: 'batch', description: 'images per session.run' },
  },
  /** How long a partial batch waits for more images, ms. @defaultValue 10 (env `FACEFLEET_MAX_WAIT_MS`) */
  maxWaitMs: {
    flag: '--max-wait-ms <ms>',
    env: 'FACEFLEET_MAX_WAIT_MS',
    default: 10,
    unit: 'ms',
    help: 'how long a partial batch waits for more images',
    schema: int(0, 60_000),
    chart: { key: 'maxWaitMs', description: 'partial-batch wait, ms' },
  },
  /**
   * ORT intra-op threads; 0 lets onnxruntime choose. Unset: half the usable cores on a CPU (at least 1;
   * every core for MogFace), 0 on a GPU ({@link defaultInferenceThreads}). @defaultValue half the cores on a CPU (env `FACEFLEET_INFERENCE_THREADS`)
   */
  threads: {
    flag: '--threads <n>',
    env: 'FACEFLEET_INFERENCE_THREADS',
    defaultText: 'half the cores on a CPU (at least 1; all of them for mogface), 0 on a GPU',
    help: 'onnxruntime intra-op threads of the session (0: onnxruntime decides)',
    doc: "onnxruntime intra-op threads; `0` lets onnxruntime decide. Unset, half the usable cores on a CPU (at least 1; the container's CPU limit counts), leaving the rest to decoding: one thread costs the least CPU per image; every usable core for `mogface`, whose inference is nearly all its work; `0` on a GPU. Chosen by measurement ([docs/benchmarks.md](docs/benchmarks.md))",
    schema: int(0, 256),
    derive: (c) => defaultInferenceThreads((c.providers as string[] | undefined) ?? [], usableCores(), String(c.model)),
    chart: { key: 'inferenceThreads', description: 'null: half the cores on a CPU (all for mogface), 0 on a GPU; 0 lets onnxruntime decide' },
  },
  /** Execution providers, comma-separated (`cpu`, `cuda`, `tensorrt`). @defaultValue `cpu` (env `FACEFLEET_PROVIDERS`) */
  providers: {
    flag: '--providers <list>',
    env: 'FACEFLEET_PROVIDERS',
    default: 'cpu',
    help: 'execution providers, comma-separated: cpu, cuda',
    doc: 'execution providers, e.g. `cuda`; a GPU provider that cannot load stops the worker at start',
    schema: z
      .string()
      .regex(/^(cpu|cuda|tensorrt)(,(cpu|cuda|tensorrt))*$/, 'expected a comma-separated list of cpu, cuda, tensorrt')
      .transform((s) => s.split(',')),
    chart: { key: 'providers', description: 'execution providers on CPU nodes' },
  },
  /** Continue on CPU when a GPU provider cannot load. @defaultValue false (env `FACEFLEET_ALLOW_CPU_FALLBACK`) */
  allowCpuFallback: {
    flag: '--allow-cpu-fallback',
    env: 'FACEFLEET_ALLOW_CPU_FALLBACK',
    default: false,
    help: 'run on CPU when a GPU provider cannot load (off: fail at start)',
    doc: 'run on CPU instead when the GPU provider cannot load',
    schema: bool(),
  },
  /** Override the model's score threshold (0–1). @defaultValue the model's (env `FACEFLEET_SCORE_THRESHOLD`) */
  scoreThreshold: {
    flag: '--score-threshold <p>',
    env: 'FACEFLEET_SCORE_THRESHOLD',
    defaultText: "model's",
    help: 'minimum face score (0-1)',
    schema: z.coerce.number().min(0).max(1),
    chart: { key: 'scoreThreshold', description: "minimum face score; null keeps the model's" },
  },
  /** Largest image object accepted, MiB. @defaultValue 50 (env `FACEFLEET_MAX_IMAGE_MB`) */
  maxImageMb: {
    flag: '--max-image-mb <mb>',
    env: 'FACEFLEET_MAX_IMAGE_MB',
    default: 50,
    unit: 'MiB',
    help: 'largest image object accepted',
    doc: 'largest object downloaded (`E_TOO_LARGE` above)',
    schema: z.coerce.number().positive().max(4096),
    chart: { key: 'maxImageMb', description: 'largest object downloaded, MiB' },
  },
  /** Largest decoded image accepted, megapixels (decompression-bomb guard). @defaultValue 100 (env `FACEFLEET_MAX_MEGAPIXELS`) */
  maxMegapixels: {
    flag: '--max-megapixels <mp>',
    env: 'FACEFLEET_MAX_MEGAPIXELS',
    default: 100,
    unit: 'megapixels',
    help: 'largest declared image (decompression-bomb guard)',
    schema: z.coerce.number().positive().max(10_000),
    chart: { key: 'maxMegapixels' },
  },
  /**
   * libvips threads per image. Images already decode in parallel on the libuv pool while the inference
   * thread runs; on small machines more threads per image only contend with those and with
   * onnxruntime (measured with `facefleet bench`, docs/benchmarks.md). @defaultValue 1 (env `FACEFLEET_DECODE_THREADS`)
   */
  decodeThreads: {
    flag: '--decode-threads <n>',
    env: 'FACEFLEET_DECODE_THREADS',
    default: 1,
    help: 'libvips threads per image (images decode in parallel on the libuv pool)',
    doc: "libvips threads per image; images already decode in parallel on the libuv pool (sharp's operation cache is off); chosen by measurement ([docs/benchmarks.md](docs/benchmarks.md))",
    schema: int(1, 64),
    chart: { key: 'decodeThreads' },
  },
  /**
   * Let onnxruntime's pool threads busy-wait between parallel sections (its own default). Off, they
   * block, leaving the cores to decoding and to other pods (measured, docs/benchmarks.md).
   * @defaultValue false (env `FACEFLEET_ORT_ALLOW_SPINNING`)
   */
  ortAllowSpinning: {
    flag: '--ort-allow-spinning',
    env: 'FACEFLEET_ORT_ALLOW_SPINNING',
    default: false,
    help: "let onnxruntime's pool threads busy-wait between parallel sections",
    doc: "onnxruntime's default busy-waiting pool threads; off, they block and leave the cores to decoding (chosen by measurement, [docs/benchmarks.md](docs/benchmarks.md))",
    schema: bool(),
    chart: { key: 'ortAllowSpinning', schema: { type: 'boolean' } },
  },
});

/** An allowed location: a bucket, a key prefix in one (whole segments), or an absolute folder. */
const locationPrefix = z
  .string()
  .regex(/^(s3:\/\/[^/\s]+|file:\/\/\/)/, 'expected s3://bucket… or file:///… prefixes')
  .refine((url) => isLocation(url), { message: 'expected a valid location URL (s3://bucket, s3://bucket/prefix, file:///abs/dir)' })
  .refine((url) => !/^file:\/\/\/+$/.test(url), { message: '"file:///" is the whole file system: name the folders instead' });

function isLocation(url: string): boolean {
  try {
    parseLocation(url);
    return true;
  } catch {
    return false;
  }
}

/**
 * A comma-separated list of allowed locations (`s3://bucket`, `s3://bucket/prefix`, `file:///abs/dir`),
 * parsed into an array; empty for an empty string.
 */
export function allowedLocationsField() {
  return z
    .string()
    .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p !== ''))
    .pipe(z.array(locationPrefix));
}

/** The chart's check of an allowed-locations list (zod's refinements do not export to JSON Schema). */
export const ALLOWED_LOCATIONS_PATTERN = '^((s3://[^/,\\s]+(/[^,]*)?|file:///[^,]+)(,(s3://[^/,\\s]+(/[^,]*)?|file:///[^,]+))*)?$';

/**
 * What a store registry may open: `fileRoots` plus the `file:///` entries of `allowedLocations` as
 * folders, and the `s3://` entries as buckets or bucket prefixes (none: any bucket).
 */
export function storeLocations(allowedLocations: readonly string[], fileRoots: readonly string[] = []): { fileRoots: string[]; s3Locations: string[] } {
  return {
    fileRoots: [...fileRoots, ...allowedLocations.filter((l) => l.startsWith('file:///')).map((l) => l.slice('file://'.length))],
    s3Locations: allowedLocations.filter((l) => l.startsWith('s3://')),
  };
}
