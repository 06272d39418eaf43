import fs from 'node:fs/promises';
import path from 'node:path';
import { detectJob } from '../../src/producer/enqueue-run';
import { fromManifest } from '../../src/producer/key-sources';
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
   * CPU time per key, µs: this process (reading the manifest, job ids, BullMQ's serialisation) and
   * redis-server (BullMQ's add script per job). `null` where unreadable.
   */
  cpuUsPerKey: { producer: number | null; redis: number | null };
  /**
   * BullMQ's own ceiling on this machine, measured right after: the same number of jobs with the same
   * data and options through bare `addBulk` (chunks of 1,000, two in flight), with no manifest, job-id
   * hashing, duplicate check or run record. `keysPerSecond / addBulkPerSecond` is what the producer's
   * own work costs.
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

/**
 * Producer throughput: a manifest of `keys` lines (keys relative to a base folder, as a real manifest
 * holds them) streamed by `fromManifest` into `enqueueRun` — deterministic job ids, the duplicate
 * check, `addBulk` in chunks of 1,000, the run record — on a fresh queue with no worker. The clock
 * covers reading the manifest through sealing the run; the queue is removed afterwards.
 */
export async function measureEnqueue(options: EnqueueRateOptions, progress: ProgressSink): Promise<EnqueueRate> {
  const manifest = path.join(options.workDir, `manifest-${options.keys}.txt`);
  const width = String(options.keys).length;
  const lines: string[] = [];
  for (let i = 0; i < options.keys; i++) lines.push(`photos/${String(i % 1000).padStart(3, '0')}/img-${String(i).padStart(width, '0')}.jpg`);
  await fs.writeFile(manifest, `${lines.join('\n')}\n`);
  const bq = new BenchQueue(options.redisUrl, benchQueueName('enqueue'));
  try {
    // The connection is opened before the clock starts, as a long-running producer's would be.
    await bq.queue.waitUntilReady();
    const base = `file://${path.join(options.workDir, 'nowhere')}/`;
    const producerCpu = new CpuMeter(async () => selfCpuMs());
    const redisCpu = new CpuMeter(() => redisCpuMs(bq.redis));
    await redisCpu.begin();
    await producerCpu.begin();
    const t0 = performance.now();
    const report = await bq.enqueue('enqueue', fromManifest(manifest, base), `file://${path.join(options.workDir, 'enqueue-results')}`, options.model, (n) =>
      progress.update(n, options.keys, 'keys'),
    );
    const ms = performance.now() - t0;
    const producerMs = await producerCpu.elapsed();
    const redisMs = await redisCpu.elapsed();
    const perKey = (cpuMs: number | null) => (cpuMs === null || report.enqueued === 0 ? null : Math.round((cpuMs * 1000) / report.enqueued));
    const bare = await measureBareAddBulk(options, report.enqueued, progress);
    return {
      keysPerSecond: Math.round(report.enqueued / (ms / 1000)),
      keys: report.enqueued,
      seconds: ms / 1000,
      cpuUsPerKey: { producer: perKey(producerMs), redis: perKey(redisMs) },
      addBulkPerSecond: bare.perSecond,
      addBulkCpuUsPerJob: bare.cpuUsPerJob,
    };
  } finally {
    await bq.close().catch(() => undefined);
    await fs.rm(manifest, { force: true });
  }
}

/** Bare `addBulk` of `jobs` jobs shaped as the producer's, on a fresh queue: BullMQ's ceiling here. */
async function measureBareAddBulk(
  options: EnqueueRateOptions,
  jobs: number,
  progress: ProgressSink,
): Promise<{ perSecond: number | null; cpuUsPerJob: { producer: number | null; redis: number | null } }> {
  if (jobs === 0) return { perSecond: null, cpuUsPerJob: { producer: null, redis: null } };
  const bq = new BenchQueue(options.redisUrl, benchQueueName('addbulk'));
  try {
    await bq.queue.waitUntilReady();
    const opts = jobOptions(DEFAULT_JOB_POLICY);
    const results = `file://${path.join(options.workDir, 'enqueue-results')}`;
    const producerCpu = new CpuMeter(async () => selfCpuMs());
    const redisCpu = new CpuMeter(() => redisCpuMs(bq.redis));
    await redisCpu.begin();
    await producerCpu.begin();
    const t0 = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let start = 0; start < jobs; start += 1000) {
      const chunk = [];
      for (let i = start; i < Math.min(jobs, start + 1000); i++) {
        const key = `photos/${String(i % 1000).padStart(3, '0')}/img-${i}.jpg`;
        chunk.push(detectJob({ source: `file://${options.workDir}/nowhere/${key}`, key }, `ff-bare-${i}`, { results, runId: 'addbulk', model: options.model }, opts));
      }
      const sent: Promise<unknown> = bq.queue.addBulk(chunk).finally(() => inFlight.delete(sent));
      inFlight.add(sent);
      if (inFlight.size >= 2) await Promise.race(inFlight);
      progress.update(Math.min(jobs, start + 1000), jobs, 'jobs (bare addBulk)');
    }
    await Promise.all(inFlight);
    const ms = performance.now() - t0;
    const per = (cpuMs: number | null) => (cpuMs === null ? null : Math.round((cpuMs * 1000) / jobs));
    return { perSecond: Math.round(jobs / (ms / 1000)), cpuUsPerJob: { producer: per(await producerCpu.elapsed()), redis: per(await redisCpu.elapsed()) } };
  } finally {
    await bq.close().catch(() => undefined);
  }
}
