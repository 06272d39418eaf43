import { z } from 'zod';
import { MAX_RUN_ID_LENGTH, RUN_ID_PATTERN } from '../queue/job-data';
import { queueFields, runFields } from './common';
import { bool, int, parseConfig } from './parse';

const location = z.string().regex(/^(s3:\/\/|file:\/\/\/)/, 'expected an s3://bucket/… or file:///… URL');

const producerSchema = z.object({
  ...queueFields,
  ...runFields,
  /** Results location URL (required). (env `FACEFLEET_RESULTS`) */
  results: location,
  /** Run id. @defaultValue `run-<UTC timestamp>` */
  runId: z.string().regex(RUN_ID_PATTERN, `expected letters, digits, . _ - (at most ${MAX_RUN_ID_LENGTH})`).default(() => `run-${new Date().toISOString().replace(/[:.]/g, '-')}`),
  /** Model id the jobs ask for. @defaultValue `blazeface` (env `FACEFLEET_MODEL`) */
  model: z.enum(['retinaface', 'blazeface', 'mogface']).default('retinaface'),
  /** Enqueue every image under this prefix URL. */
  prefix: location.optional(),
  /** Manifest of keys (`-` for stdin): lines, JSONL with `key`, or CSV with a `key` column. */
  manifest: z.string().min(1).optional(),
  /** Base URL for relative keys. @defaultValue the current directory as `file:///…/` */
  base: location.default(() => `file://${process.cwd().replace(/\/?$/, '/')}`),
  /** Skip images whose result exists for the same ETag and model version. @defaultValue false */
  incremental: bool().default(false),
  /** BullMQ priority for an interactive lane (1 is highest). */
  priority: int(1, 2_097_152).optional(),
  /** Pause enqueueing while the queue holds more unfinished jobs than this. @defaultValue 100000 (env `FACEFLEET_MAX_BACKLOG`) */
  maxBacklog: int(1, 100_000_000).default(100_000),
  /**
   * Pause enqueueing while Redis reports more memory in use than this, MiB (`INFO memory` `used_memory`).
   * Set it below Redis' `maxmemory`. @defaultValue unset: no memory check (env `FACEFLEET_MAX_REDIS_MEMORY_MB`)
   */
  maxRedisMemoryMb: z.coerce.number().positive().max(10_000_000).optional(),
  /** Jobs per addBulk call. @defaultValue 1000 */
  chunkSize: int(1, 100_000).default(1000),
  /** Retry attempts for transient failures. @defaultValue 5 */
  attempts: int(1, 100).default(5),
  /** Wait for the run to finish with a progress bar; exit 1 if any image failed. @defaultValue false */
  wait: bool().default(false),
  /** Machine-readable output on stdout. @defaultValue false */
  json: bool().default(false),
});

/** Producer settings, validated and frozen. */
export type ProducerConfig = z.output<typeof producerSchema>;

/** Builds the producer config; throws `E_CONFIG` naming every bad field. */
export function loadProducerConfig(flags: Record<string, unknown>, env: Record<string, string | undefined> = process.env): Readonly<ProducerConfig> {
  return parseConfig(producerSchema, flags, env, {
    redisUrl: 'REDIS_URL',
    queue: 'FACEFLEET_QUEUE',
    redisPrefix: 'FACEFLEET_REDIS_PREFIX',
    results: 'FACEFLEET_RESULTS',
    model: 'FACEFLEET_MODEL',
    maxBacklog: 'FACEFLEET_MAX_BACKLOG',
    maxRedisMemoryMb: 'FACEFLEET_MAX_REDIS_MEMORY_MB',
    runTtlDays: 'FACEFLEET_RUN_TTL_DAYS',
  });
}
