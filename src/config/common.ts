import { z } from 'zod';
import { parseLocation } from '../storage/location';
import { bool, int } from './parse';

/** Queue location fields shared by every command. */
export const queueFields = {
  /** Redis URL. @defaultValue `redis://127.0.0.1:6379` (env `REDIS_URL`) */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  /** Queue name. @defaultValue `facefleet` (env `FACEFLEET_QUEUE`) */
  queue: z.string().regex(/^[A-Za-z0-9._{}-]{1,100}$/, 'expected letters, digits, . _ - { }').default('facefleet'),
  /** BullMQ key prefix; `{facefleet}` for Redis Cluster. @defaultValue `bull` (env `FACEFLEET_REDIS_PREFIX`) */
  redisPrefix: z.string().regex(/^[^\s:]{1,100}$/, 'expected a prefix without spaces or colons').default('bull'),
};

/** Fields of commands that create run records (enqueue, serve). */
export const runFields = {
  /**
   * Days a run record (progress, counts, failures by code) is kept after its last change; it then
   * expires from Redis and from `facefleet runs`. The jobs and results are not affected.
   * @defaultValue 30 (env `FACEFLEET_RUN_TTL_DAYS`)
   */
  runTtlDays: z.coerce.number().positive().max(3650).default(30),
};

/** Seconds of a `runTtlDays` value (at least one). */
export function runTtlSeconds(days: number): number {
  return Math.max(1, Math.round(days * 86_400));
}

/** Model and decode fields shared by worker, detect and demo. */
export const modelFields = {
  /** Model id. @defaultValue `retinaface` (env `FACEFLEET_MODEL`) */
  model: z.enum(['retinaface', 'blazeface', 'mogface']).default('retinaface'),
  /** ONNX file; required for mogface, pulled automatically for blazeface. (env `FACEFLEET_MODEL_PATH`) */
  modelPath: z.string().optional(),
  /** Canvas side in pixels for models with a dynamic input (RetinaFace, MogFace). @defaultValue 640 */
  canvas: int(64, 4096).default(640),
  /**
   * Most extra tiles per large photo, each a canvas-sized window at a finer scale, merged with the
   * whole-image view by NMS: finds small faces in big photos at (1 + tiles)× the inference cost;
   * 0 turns tiling off. @defaultValue the model's: 4 for RetinaFace, 0 for BlazeFace (a close-range
   * model, chosen for speed) and MogFace (seconds per canvas) (env `FACEFLEET_MAX_TILES`)
   */
  maxTiles: int(0, 64).optional(),
  /** Images per inference batch. @defaultValue 8 (env `FACEFLEET_BATCH`) */
  batch: int(1, 256).default(8),
  /** ms a partial batch waits for more images. @defaultValue 10 (env `FACEFLEET_MAX_WAIT_MS`) */
  maxWaitMs: int(0, 60_000).default(10),
  /** ORT intra-op threads; 0 lets onnxruntime choose. @defaultValue 0 (env `FACEFLEET_INFERENCE_THREADS`) */
  threads: int(0, 256).default(0),
  /** Execution providers, comma-separated (`cpu`, `cuda`). @defaultValue `cpu` (env `FACEFLEET_PROVIDERS`) */
  providers: z
    .string()
    .regex(/^(cpu|cuda|tensorrt)(,(cpu|cuda|tensorrt))*$/, 'expected a comma-separated list of cpu, cuda, tensorrt')
    .default('cpu')
    .transform((s) => s.split(',')),
  /** Continue on CPU when a GPU provider cannot load. @defaultValue false */
  allowCpuFallback: bool().default(false),
  /** Override the model's score threshold (0–1). */
  scoreThreshold: z.coerce.number().min(0).max(1).optional(),
  /** Largest image object accepted, in MiB. @defaultValue 50 (env `FACEFLEET_MAX_IMAGE_MB`) */
  maxImageMb: z.coerce.number().positive().max(4096).default(50),
  /** Largest decoded image accepted, in megapixels (decompression-bomb guard). @defaultValue 100 (env `FACEFLEET_MAX_MEGAPIXELS`) */
  maxMegapixels: z.coerce.number().positive().max(10_000).default(100),
};

/** Environment names of the shared fields. */
export const commonEnv = {
  redisUrl: 'REDIS_URL',
  queue: 'FACEFLEET_QUEUE',
  redisPrefix: 'FACEFLEET_REDIS_PREFIX',
  model: 'FACEFLEET_MODEL',
  modelPath: 'FACEFLEET_MODEL_PATH',
  canvas: 'FACEFLEET_CANVAS',
  maxTiles: 'FACEFLEET_MAX_TILES',
  batch: 'FACEFLEET_BATCH',
  maxWaitMs: 'FACEFLEET_MAX_WAIT_MS',
  threads: 'FACEFLEET_INFERENCE_THREADS',
  providers: 'FACEFLEET_PROVIDERS',
  allowCpuFallback: 'FACEFLEET_ALLOW_CPU_FALLBACK',
  scoreThreshold: 'FACEFLEET_SCORE_THRESHOLD',
  maxImageMb: 'FACEFLEET_MAX_IMAGE_MB',
  maxMegapixels: 'FACEFLEET_MAX_MEGAPIXELS',
} as const;

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
 * parsed into an array; empty when unset.
 */
export function allowedLocationsField() {
  return z
    .string()
    .default('')
    .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p !== ''))
    .pipe(z.array(locationPrefix));
}

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
