import fs from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_CHUNK_SIZE, detectJob, enqueueRun } from '../../src/producer/enqueue-run';
import { manifestBatches } from '../../src/producer/manifest';
import { jobIdFor } from '../../src/queue/job-data';
import { DEFAULT_JOB_POLICY, jobOptions } from '../../src/queue/job-options';
import { BenchQueue, benchQueueName } from './bench-queue';
import { CpuMeter, redisCpuMs, selfCpuMs } from './cpu-time';
import type { ProgressSink } from './progress';

/** What the enqueue measurement found. */
export interface EnqueueRate {
  /** Keys enqueued per second. */
  keysPerSecond: number;
  keys: number;
  seconds: number;
  /**
   * CPU time per key, µs: this process (reading the manifest, job ids, the duplicate check, BullMQ's
   * serialisation) and redis-server (the existence checks, BullMQ's add script per job). `null` where
   * unreadable.
   */
  cpuUsPerKey: { producer: number | null; redis: number | null };
  /**
   * BullMQ's own ceiling on this machine, measured on both sides of the producer (before and after, so
   * a change in the machine's load weighs on both alike; the mean of the two): the same jobs (same
   * sources, keys, job ids, run, results and options) through bare `addBulk` in chunks of the
   * producer's size, two in flight, with no manifest, job-id hashing, duplicate check or run record.
   * `keysPerSecond / addBulkPerSecond` is what the producer's own work costs.
   */
  addBulkPerSecond: number | null;
  addBulkCpuUsPerJob: { producer: number | null; redis: number | null };
}

/** Settings of {@link measureEnqueue}. */
export interface EnqueueRateOptions {
  redisUrl: string;
  /** Keys in the manifest. */
  keys: number;
  /** Folder the manifest is written to. */
  workDir: string;
  /** Model id written into the jobs. */
  model: string;
}

/** The run id of both sides: the same job ids and payloads, each side in its own queue. */
const RUN_ID = 'bench-enqueue';

/** Keys run through both sides, untimed, before measuring: the JIT warms BullMQ's path for both alike. */
const WARM_UP_KEYS = 10_000;

/** One timed side of the comparison. */
interface Side {
  jobs: number;
  ms: number;
  cpuMs: { producer: number | null; redis: number | null };
}

/**
 * Producer throughput: a manifest of `keys` lines (keys relative to a base folder, as a real manifest
 * holds them) read by `manifestBatches` into `enqueueRun`, as `facefleet enqueue --manifest` does —
 * deterministic job ids, the duplicate check, `addBulk` in chunks, the run record — on a fresh queue
 * with no worker, the clock covering reading the manifest through sealing the run. BullMQ's bare
 * `addBulk` of the same jobs is timed right before and right after, each on a fresh queue of an
 * otherwise empty Redis (every queue is removed after its side). Both paths are warmed up first.
 */
export async function measureEnqueue(options: EnqueueRateOptions, progress: ProgressSink): Promise<EnqueueRate> {
  const manifest = path.join(options.workDir, `manifest-${options.keys}.txt`);
  const warmManifest = path.join(options.workDir, `manifest-warm-up.txt`);
  const width = String(options.keys).length;
  const lines: string[] = [];
  for (let i = 0; i < options.keys; i++) lines.push(`photos/${String(i % 1000).padStart(3, '0')}/img-${String(i).padStart(width, '0')}.jpg`);
  await fs.writeFile(manifest, `${lines.join('\n')}\n`);
  await fs.writeFile(warmManifest, `${lines.slice(0, WARM_UP_KEYS).join('\n')}\n`);
  const base = `file://${path.join(options.workDir, 'nowhere')}/`;
  const results = `file://${path.join(options.workDir, 'enqueue-results')}`;
  try {
    const jobs = await BareJobs.of(manifest, base, options.model);
    const quiet: ProgressSink = { phase: () => undefined, update: () => undefined, end: () => undefined };
    await viaProducer(options, warmManifest, base, results, quiet);
    await bareAddBulk(options, jobs, Math.min(WARM_UP_KEYS, jobs.count), results, quiet);

    const before = await bareAddBulk(options, jobs, jobs.count, results, progress);
    const producer = await viaProducer(options, manifest, base, results, progress);
    const after = await bareAddBulk(options, jobs, jobs.count, results, progress);
    const perKey = (cpuMs: number | null, jobs: number) => (cpuMs === null || jobs === 0 ? null : Math.round((cpuMs * 1000) / jobs));
    const bareMs = (before.ms + after.ms) / 2;
    const bareCpu = (read: (s: Side) => number | null) => {
      const a = read(before);
      const b = read(after);
      return a === null || b === null ? null : perKey(a + b, before.jobs + after.jobs);
    };
    return {
      keysPerSecond: Math.round(producer.jobs / (producer.ms / 1000)),
      keys: producer.jobs,
      seconds: producer.ms / 1000,
      cpuUsPerKey: { producer: perKey(producer.cpuMs.producer, producer.jobs), redis: perKey(producer.cpuMs.redis, producer.jobs) },
      addBulkPerSecond: before.jobs === 0 ? null : Math.round(before.jobs / (bareMs / 1000)),
      addBulkCpuUsPerJob: { producer: bareCpu((s) => s.cpuMs.producer), redis: bareCpu((s) => s.cpuMs.redis) },
    };
  } finally {
    await fs.rm(manifest, { force: true });
    await fs.rm(warmManifest, { force: true });
  }
}

/** Times `run` on a fresh queue opened before the clock starts (as a long-running process's would be); the queue is removed afterwards. */
async function timed(options: EnqueueRateOptions, label: string, run: (bq: BenchQueue) => Promise<number>): Promise<Side> {
  const bq = new BenchQueue(options.redisUrl, benchQueueName(label));
  try {
    await bq.queue.waitUntilReady();
    const producerCpu = new CpuMeter(async () => selfCpuMs());
    const redisCpu = new CpuMeter(() => redisCpuMs(bq.redis));
    await redisCpu.begin();
    await producerCpu.begin();
    const t0 = performance.now();
    const jobs = await run(bq);
    const ms = performance.now() - t0;
    const producer = await producerCpu.elapsed();
    const redis = await redisCpu.elapsed();
    return { jobs, ms, cpuMs: { producer, redis } };
  } finally {
    await bq.close().catch(() => undefined);
  }
}

/** The manifest through `enqueueRun`, as `facefleet enqueue --manifest` reads it (the backlog bound lifted: no worker drains this queue). */
function viaProducer(options: EnqueueRateOptions, manifest: string, base: string, results: string, progress: ProgressSink): Promise<Side> {
  // The queue names of both sides have the same length, so their Redis keys do too.
  return timed(options, 'enqueue', async (bq) => {
    const report = await enqueueRun(bq.queue, bq.redis, bq.runs, manifestBatches(manifest, base), {
      runId: RUN_ID,
      results,
      model: options.model,
      maxBacklog: Number.MAX_SAFE_INTEGER,
      onProgress: (n) => progress.update(n, options.keys, 'keys'),
    });
    return report.enqueued;
  });
}

/** Bare `addBulk` of the first `count` of `jobs`, in the producer's chunks with two in flight: BullMQ's ceiling here. */
function bareAddBulk(options: EnqueueRateOptions, jobs: BareJobs, count: number, results: string, progress: ProgressSink): Promise<Side> {
  return timed(options, 'addbulk', async (bq) => {
    const opts = jobOptions(DEFAULT_JOB_POLICY);
    const run = { results, runId: RUN_ID, model: options.model };
    const inFlight = new Set<Promise<unknown>>();
    for (let start = 0; start < count; start += DEFAULT_CHUNK_SIZE) {
      const chunk = [];
      for (let i = start; i < Math.min(count, start + DEFAULT_CHUNK_SIZE); i++) {
        const key = jobs.key(i);
        chunk.push(detectJob({ source: jobs.head + key, key }, jobs.id(i), run, opts));
      }
      const sent: Promise<unknown> = bq.queue.addBulk(chunk).finally(() => inFlight.delete(sent));
      inFlight.add(sent);
      if (inFlight.size >= 2) await Promise.race(inFlight);
      progress.update(Math.min(count, start + DEFAULT_CHUNK_SIZE), count, 'jobs (bare addBulk)');
    }
    await Promise.all(inFlight);
    return count;
  });
}

/**
 * The bare side's jobs: the producer's keys (resolved from the manifest as the producer resolves
 * them) and job ids (hashed before any clock starts), held in three strings. A job's strings are
 * sliced out of them as it is built, as the producer slices keys out of what it reads: the same kind
 * of strings on both sides, and a handful of objects on the heap where arrays of them would be
 * hundreds of thousands, marked by every full collection of the producer's side too.
 */
class BareJobs {
  private constructor(
    /** What every key's source starts with. */
    readonly head: string,
    /** The keys, `\n`-separated. */
    private readonly keys: string,
    /** Where each key starts in `keys`, and the end of the last one plus 1. */
    private readonly starts: Uint32Array,
    /** The job ids, each {@link ID_LENGTH} characters, one after another. */
    private readonly ids: string,
    readonly count: number,
  ) {}

  /** The jobs of `manifest` under `base` for run {@link RUN_ID} of `model`. */
  static async of(manifest: string, base: string, model: string): Promise<BareJobs> {
    const keys: string[] = [];
    const ids: string[] = [];
    let head: string | undefined;
    for await (const batch of manifestBatches(manifest, base)) {
      for (const k of batch) {
        head ??= k.source.slice(0, k.source.length - k.key.length);
        if (k.source !== head + k.key) throw new Error(`bench manifest: ${k.source} is not ${head} + its key`);
        const id = jobIdFor(k.source, model, RUN_ID);
        if (id.length !== ID_LENGTH) throw new Error(`job id ${id} is not ${ID_LENGTH} characters`);
        keys.push(k.key);
        ids.push(id);
      }
    }
    const starts = new Uint32Array(keys.length + 1);
    keys.forEach((k, i) => (starts[i + 1] = starts[i] + k.length + 1));
    return new BareJobs(head ?? '', keys.join('\n'), starts, ids.join(''), keys.length);
  }

  key(i: number): string {
    return this.keys.slice(this.starts[i], this.starts[i + 1] - 1);
  }

  id(i: number): string {
    return this.ids.slice(i * ID_LENGTH, (i + 1) * ID_LENGTH);
  }
}

/** Length of a job id: `ff-` and 40 hex digits. */
const ID_LENGTH = 43;
