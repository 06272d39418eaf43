import { z } from 'zod';
import { MAX_RUN_ID_LENGTH, RUN_ID_PATTERN } from '../queue/job-data';
import { checkQueueLayout, MODEL_IDS, QUEUE_OPTIONS, RETENTION_OPTIONS, RUN_OPTIONS } from './common';
import { ConfigOf, defineOptions } from './option-spec';
import { bool, Env, int, parseConfig } from './parse';

const location = z.string().regex(/^(s3:\/\/|file:\/\/\/)/, 'expected an s3://bucket/… or file:///… URL');

/** The options `facefleet enqueue` adds to the queue options. */
export const ENQUEUE_OWN_OPTIONS = defineOptions({
  /** Results location URL; each result goes to `<results>/<key>.json`. (env `FACEFLEET_RESULTS`, required) */
  results: {
    flag: '--results <url>',
    env: 'FACEFLEET_RESULTS',
    defaultText: '(required)',
    help: 'results location URL (s3://bucket/prefix or file:///dir)',
    doc: 'results location; each result goes to `<results>/<key>.json`',
    schema: location,
    required: true,
  },
  /** Enqueue every image under this prefix URL. */
  prefix: {
    flag: '--prefix <url>',
    help: 'enqueue every image under this prefix (s3://bucket/photos/ or file:///dir/)',
    doc: 'every image (by extension) under a prefix, listed lazily page by page',
    schema: location,
  },
  /** Manifest of keys (`-` for stdin): lines, JSONL with `key`, or CSV with a `key` column. */
  manifest: {
    flag: '--manifest <file>',
    help: 'keys from a file: lines, JSONL with "key", or CSV with a key column; - for stdin',
    doc: 'one key or URL per line, JSONL with a `key` (or `source`) field, or CSV with a `key` column; `-` reads stdin; streamed',
    schema: z.string().min(1),
  },
  /** Base URL for relative keys. @defaultValue the current directory as `file:///…/` */
  base: {
    flag: '--base <url>',
    default: () => `file://${process.cwd().replace(/\/?$/, '/')}`,
    defaultText: 'the current directory',
    help: 'base URL of relative keys',
    doc: 'base of relative keys; a leading `./` is dropped (`find .` output works), `..` is refused',
    schema: location,
  },
  /** Run id. @defaultValue `run-<UTC timestamp>` */
  runId: {
    flag: '--run-id <id>',
    default: () => `run-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    defaultText: 'run-<UTC time>',
    help: 'run id',
    doc: `run id (letters, digits, \`.\`, \`_\`, \`-\`; at most ${MAX_RUN_ID_LENGTH})`,
    schema: z.string().regex(RUN_ID_PATTERN, `expected letters, digits, . _ - (at most ${MAX_RUN_ID_LENGTH})`),
  },
  ...RUN_OPTIONS,
  /** Model id the jobs ask for. @defaultValue `retinaface` (env `FACEFLEET_MODEL`) */
  model: {
    flag: '--model <id>',
    env: 'FACEFLEET_MODEL',
    default: 'retinaface',
    help: 'model the jobs ask for',
    doc: 'model the jobs ask for (a worker refuses jobs for another model with `E_BAD_JOB`)',
    schema: z.enum(MODEL_IDS),
  },
  /** Skip images whose result exists for the same ETag and model version. @defaultValue false */
  incremental: {
    flag: '--incremental',
    default: false,
    help: 'skip images whose result exists for the same ETag and model version',
    doc: 'complete as `skipped` every image whose result exists for the same source ETag, model id and version, without download or inference',
    schema: bool(),
  },
  /** BullMQ priority for an interactive lane (1 is highest). */
  priority: { flag: '--priority <n>', help: 'BullMQ priority for an interactive lane (1 = highest)', schema: int(1, 2_097_152) },
  /** Pause enqueueing while the queue holds more unfinished jobs than this. @defaultValue 100000 (env `FACEFLEET_MAX_BACKLOG`) */
  maxBacklog: {
    flag: '--max-backlog <n>',
    env: 'FACEFLEET_MAX_BACKLOG',
    default: 100_000,
    help: 'pause while the queue holds more unfinished jobs than this',
    doc: 'enqueueing pauses while the queue holds more unfinished jobs (waiting, prioritized, delayed, active) than this; the bound is never exceeded',
    schema: int(1, 100_000_000),
  },
  /**
   * Pause enqueueing while Redis reports more memory in use than this, MiB (`INFO memory` `used_memory`).
   * Set it below Redis' `maxmemory`. @defaultValue unset: no memory check (env `FACEFLEET_MAX_REDIS_MEMORY_MB`)
   */
  maxRedisMemoryMb: {
    flag: '--max-redis-memory-mb <mb>',
    env: 'FACEFLEET_MAX_REDIS_MEMORY_MB',
    defaultText: 'unset',
    unit: 'MiB',
    help: 'pause while Redis uses more memory than this (set below its maxmemory)',
    doc: "enqueueing pauses, saying so, while Redis reports more memory in use than this (checked before every chunk; overshoot at most one chunk, about 1.2 KB per job); set it below Redis' `maxmemory`",
    schema: z.coerce.number().positive().max(10_000_000),
  },
  /** Jobs per addBulk call. @defaultValue 1000 */
  chunkSize: { flag: '--chunk-size <n>', default: 1000, help: 'jobs per addBulk', doc: 'jobs per `addBulk`', schema: int(1, 100_000) },
  /** Retry attempts for transient failures. @defaultValue 5 */
  attempts: { flag: '--attempts <n>', default: 5, help: 'attempts for transient errors', schema: int(1, 100) },
  ...RETENTION_OPTIONS,
  /** Wait for the run to finish with a progress bar; exit 1 if any image failed. @defaultValue false */
  wait: {
    flag: '--wait',
    default: false,
    help: 'follow the run with a progress bar; exit 1 if any image failed',
    doc: 'follow the run with a progress bar (rate, ETA); exit 1 if any image failed',
    schema: bool(),
  },
  /** Machine-readable output on stdout. @defaultValue false */
  json: { flag: '--json', default: false, help: 'machine-readable output on stdout', schema: bool() },
});

/** The options of `facefleet enqueue`, each declared once. */
export const ENQUEUE_OPTIONS = defineOptions({ ...QUEUE_OPTIONS, ...ENQUEUE_OWN_OPTIONS });

/** Producer settings, validated and frozen. */
export type ProducerConfig = ConfigOf<typeof ENQUEUE_OPTIONS>;

/** Builds the producer config; throws `E_CONFIG` naming every bad field. */
export function loadProducerConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<ProducerConfig> {
  const config = parseConfig(ENQUEUE_OPTIONS, flags, env);
  checkQueueLayout(config, ENQUEUE_OPTIONS, flags, env);
  return config;
}
