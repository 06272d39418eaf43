import os from 'node:os';
import path from 'node:path';
import { BENCH_OWN_OPTIONS as OWN } from '../../src/config/bench-config';
import { ModelConfig, imageLimits, loadModelConfig } from '../../src/config/model-config';
import { FacefleetError } from '../../src/errors';
import { findRepoRoot } from '../../src/models/registry';
import { MAX_SHARDS } from '../../src/queue/shards';
import { ExecutionSetting, defaultIntraOpThreads, parseExecution } from './inference-grid';

/** The measurements `facefleet bench` can take; `--phases` picks a subset. */
export const BENCH_PHASES = ['ceiling', 'in-process', 'pipeline', 'naive', 'enqueue', 'fleet', 'inference', 'stages', 'plain-loop'] as const;

/** One measurement of the benchmark. */
export type BenchPhase = (typeof BENCH_PHASES)[number];

/**
 * The photo sets the benchmark measures on; `--sets` picks a subset, in the order given. `samples`: the
 * photos of `--images` (the bundled samples by default); `camera`: 12 MP phone-size JPEGs made from the
 * bundled samples (see `ensureCameraSet`).
 */
export const BENCH_SETS = ['samples', 'camera'] as const;

/** One photo set of the benchmark. */
export type BenchSetName = (typeof BENCH_SETS)[number];

/** The measurements a sweep row can hold. */
export const SWEEP_PHASES = ['ceiling', 'in-process', 'pipeline'] as const;

/** One measurement of a sweep row. */
export type SweepPhase = (typeof SWEEP_PHASES)[number];

/** Settings of one benchmark run, validated and frozen. */
export interface BenchOptions {
  /** Model, batch, threads, canvas and decode limits, exactly as a worker would get them. */
  model: Readonly<ModelConfig>;
  /** Image limits in bytes and pixels (from `model`). */
  limits: { maxBytes: number; maxPixels: number };
  /** Folder of photos of the `samples` set (not recursive). @defaultValue the bundled `samples/` */
  imagesDir: string;
  /**
   * Photo sets measured, in order; every per-photo measurement is taken on each, and the report's
   * top-level figures are those of the first. @defaultValue `['samples', 'camera']`
   */
  sets: readonly BenchSetName[];
  /** Folder whose photos the `camera` set is made from: always the bundled `samples/`, whatever `--images` says. */
  cameraSourceDir: string;
  /** Images per measurement; the photos are repeated to reach it. @defaultValue 400 */
  count: number;
  /** `facefleet worker` processes of the pipeline measurement. @defaultValue 1 */
  workers: number;
  /** Length of the ceiling loop, and the longest the naive worker runs, in seconds. @defaultValue 10 */
  seconds: number;
  /** Jobs (in-process: images) held at once; 0 derives 3 × batch as the worker does. @defaultValue 0 */
  concurrency: number;
  /** Keys in the enqueue measurement's manifest. @defaultValue 100000 */
  enqueueKeys: number;
  /** Shards of the fleet measurement's queue. @defaultValue 1 */
  shards: number;
  /** Measurements to take (`none`: only the sweep). @defaultValue every one of {@link BENCH_PHASES} but `fleet` and `inference` */
  phases: ReadonlySet<BenchPhase>;
  /** Times each measurement is repeated, interleaved; the median is reported. @defaultValue 1 */
  rounds: number;
  /** Also print the table of images/s against batch size and worker processes. @defaultValue false */
  sweep: boolean;
  /** Batch sizes of the sweep. @defaultValue [1, 2, 4, 8, 16] */
  sweepBatches: number[];
  /** Worker-process counts of the sweep. @defaultValue [1, 2] */
  sweepWorkers: number[];
  /** Measurements of each sweep row. @defaultValue ceiling, in-process, pipeline */
  sweepPhases: ReadonlySet<SweepPhase>;
  /** Also measure `facefleet serve` under closed-loop load (batching on and off). @defaultValue false */
  serve: boolean;
  /** Measured time per serve row, s. @defaultValue 5 */
  serveSeconds: number;
  /** Batch sizes of the inference grid (`--phases inference`). @defaultValue [1, 2, 4, 8] */
  inferenceBatches: number[];
  /** Intra-op thread counts of the inference grid; 0 lets onnxruntime decide. @defaultValue [1, cores, 0] */
  intraThreads: number[];
  /** Execution settings of the inference grid. @defaultValue sequential, parallel with 1 and with 2 inter-op threads */
  executionModes: ExecutionSetting[];
  /** Measured time per row of the inference grid, s. @defaultValue 2 */
  inferenceSeconds: number;
  /** Folder for V8 CPU profiles of the pipeline's worker processes (`node --cpu-prof`); unset: none. */
  profileDir?: string;
  /** Print one JSON object on stdout instead of the tables. @defaultValue false */
  json: boolean;
}

/**
 * Builds benchmark settings from CLI flags (strings from commander, or typed values from tests) and
 * environment: the model fields go through the same validation as a worker's, the benchmark's own
 * fields are checked here. A bad value fails with `E_CONFIG` naming the flag, what was expected and
 * what was given, before anything starts.
 */
export function loadBenchOptions(flags: Record<string, unknown>, env: Record<string, string | undefined> = process.env): Readonly<BenchOptions> {
  const {
    images, sets, count, workers, seconds, concurrency, enqueueKeys, shards, phases, rounds, sweep, batches, sweepWorkers, sweepPhases, serve, serveSeconds, inferenceBatches, intraThreads, executionModes, inferenceSeconds, profileDir, json,
    ...modelFlags
  } = flags;
  const model = loadModelConfig(modelFlags, env);
  const phaseList = phases === 'none' ? [] : listOf('phases', phases, OWN.phases.default, (s) => oneOf('phases', s, BENCH_PHASES, phases));
  const setList = listOf('sets', sets, OWN.sets.default, (s) => oneOf('sets', s, BENCH_SETS, sets));
  const bundled = path.join(findRepoRoot(), 'samples');
  const sweepPhaseList = listOf('sweep-phases', sweepPhases, OWN.sweepPhases.default, (s) => oneOf('sweep-phases', s, SWEEP_PHASES, sweepPhases));
  return Object.freeze({
    model,
    limits: imageLimits(model),
    imagesDir: path.resolve(typeof images === 'string' && images !== '' ? images : bundled),
    sets: Object.freeze(setList),
    cameraSourceDir: bundled,
    count: intOf('count', count, OWN.count.default, 1, 10_000_000),
    workers: intOf('workers', workers, OWN.workers.default, 1, 64),
    seconds: numberOf('seconds', seconds, OWN.seconds.default, 0.1, 86_400),
    concurrency: intOf('concurrency', concurrency, OWN.concurrency.default, 0, 10_000),
    enqueueKeys: intOf('enqueue-keys', enqueueKeys, OWN.enqueueKeys.default, 1, 10_000_000),
    shards: intOf('shards', shards, OWN.shards.default, 1, MAX_SHARDS),
    phases: new Set(phaseList),
    rounds: intOf('rounds', rounds, OWN.rounds.default, 1, 50),
    sweep: boolOf(sweep, OWN.sweep.default),
    sweepBatches: listOf('batches', batches, OWN.batches.default, (s) => intOf('batches', s, 0, 1, 256)),
    sweepWorkers: listOf('sweep-workers', sweepWorkers, OWN.sweepWorkers.default, (s) => intOf('sweep-workers', s, 0, 1, 64)),
    sweepPhases: new Set(sweepPhaseList),
    serve: boolOf(serve, OWN.serve.default),
    serveSeconds: numberOf('serve-seconds', serveSeconds, OWN.serveSeconds.default, 0.1, 3600),
    inferenceBatches: listOf('inference-batches', inferenceBatches, OWN.inferenceBatches.default, (s) => intOf('inference-batches', s, 0, 1, 256)),
    intraThreads: listOf('intra-threads', intraThreads, defaultIntraOpThreads(os.cpus().length).join(','), (s) => intOf('intra-threads', s, 0, 0, 256)),
    executionModes: listOf('execution-modes', executionModes, OWN.executionModes.default, (s) => parseExecution(s) ?? bad('execution-modes', 'a comma-separated list of sequential, parallel:N (N from 0 to 256)', executionModes)),
    inferenceSeconds: numberOf('inference-seconds', inferenceSeconds, OWN.inferenceSeconds.default, 0.1, 3600),
    ...(typeof profileDir === 'string' && profileDir !== '' ? { profileDir: path.resolve(profileDir) } : {}),
    json: boolOf(json, OWN.json.default),
  });
}

/** The effective number of jobs held at once for a batch size (0 → 3 × batch, as the worker derives it). */
export function effectiveConcurrency(options: Pick<BenchOptions, 'concurrency'>, batch: number): number {
  return options.concurrency || batch * 3;
}

function bad(flag: string, expected: string, given: unknown): never {
  throw new FacefleetError('E_CONFIG', `invalid configuration:\n  --${flag}: expected ${expected}; given ${JSON.stringify(given)}`);
}

function numberOf(flag: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n < min || n > max) bad(flag, `a number from ${min} to ${max}`, value);
  return n;
}

function intOf(flag: string, value: unknown, fallback: number, min: number, max: number): number {
  const n = numberOf(flag, value, fallback, min, max);
  if (!Number.isInteger(n)) bad(flag, `an integer from ${min} to ${max}`, value);
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[], given: unknown): T {
  if (!(allowed as readonly string[]).includes(value)) bad(flag, `a comma-separated list of ${allowed.join(', ')}${flag === 'phases' ? ', or none' : ''}`, given);
  return value as T;
}

/** A boolean flag: given (`true`, or `'true'` from a caller passing strings), or its default. */
function boolOf(value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : value === true || value === 'true';
}

/** A comma-separated list (or an array), each item checked by `item`; `fallback` when not given. */
function listOf<T>(flag: string, value: unknown, fallback: string, item: (s: string) => T): T[] {
  if (value === undefined || value === null || value === '') value = fallback;
  const parts = Array.isArray(value) ? value.map(String) : String(value).split(',');
  const items = parts.map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) bad(flag, 'a non-empty comma-separated list', value);
  return [...new Set(items.map(item))];
}
