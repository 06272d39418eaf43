import fs from 'node:fs/promises';
import path from 'node:path';
import type { ModelConfig } from '../../src/config/model-config';
import type { DetectionResult } from '../../src/queue/result';
import { BenchQueue, benchQueueName, fileSources } from './bench-queue';
import { ContentionMeter, CpuMeter, procCpuMs, redisCpuMs, selfCpuMs, sumOrNull } from './cpu-time';
import { PipelineResult, perImage, rate } from './phase-result';
import type { FacefleetProcess } from '../harness/facefleet-process';
import { RssSampler } from '../harness/proc-memory';
import type { ProgressSink } from './progress';
import { StageSamples } from './stats';
import { spawnBenchWorker } from './bench-workers';
import { freePort } from '../../src/lifecycle/free-port';
import { busyShares, scrapeBusy } from './worker-busy';

/** Settings of {@link measurePipeline}. */
export interface PipelineOptions {
  redisUrl: string;
  model: Readonly<ModelConfig>;
  batch: number;
  /** `facefleet worker` processes. */
  workers: number;
  /** Jobs held at once per worker. */
  concurrency: number;
  /** Folder holding the benchmark images. */
  sourceDir: string;
  /** Keys under `sourceDir`, one job each. */
  keys: readonly string[];
  /** Folder results are written under (one sub-folder per run). */
  resultsDir: string;
  /** How long a worker may take to load its model, ms. @defaultValue 300000 */
  startTimeoutMs?: number;
  /** Finished-image counts at which the workers' resident size is recorded. @defaultValue [1000, 10000] */
  rssCheckpoints?: readonly number[];
  /** Folder for V8 CPU profiles of the workers; unset: none. */
  profileDir?: string;
}

/**
 * The real thing: `workers` spawned `facefleet worker` processes on a fresh queue of the private
 * Redis, `file://` storage, results written. Once every worker has loaded its model, a warm-up run
 * (one batch per worker) goes through; then the clock runs from the first `addBulk` of the measured
 * run until its record shows every image finished. Per-stage timings come from the result files the
 * workers wrote; worker memory from `/proc/<pid>/status`, sampled throughout.
 */
export async function measurePipeline(options: PipelineOptions, progress: ProgressSink): Promise<PipelineResult> {
  const queueName = benchQueueName('pipeline');
  const bq = new BenchQueue(options.redisUrl, queueName);
  const workers: FacefleetProcess[] = [];
  let sampler: RssSampler | undefined;
  try {
    const ports: number[] = [];
    for (let i = 0; i < options.workers; i++) {
      const metricsPort = await freePort();
      ports.push(metricsPort);
      workers.push(spawnBenchWorker({ redisUrl: options.redisUrl, queue: queueName, model: options.model, batch: options.batch, concurrency: options.concurrency, profileDir: options.profileDir, fileRoots: [options.sourceDir, options.resultsDir], metricsPort }));
    }
    sampler = new RssSampler(workers.map((w) => w.pid)).start();
    await Promise.all(workers.map((w) => w.waitForStart(options.startTimeoutMs ?? 300_000)));

    const model = options.model.model;
    // One batch per worker: onnxruntime allocates on its first runs, and that is not throughput.
    const warmKeys = options.keys.slice(0, Math.min(options.keys.length, options.batch * options.workers));
    await bq.enqueue('warm-up', fileSources(options.sourceDir, warmKeys), `file://${path.join(options.resultsDir, queueName, 'warm-up')}`, model);
    await bq.waitForRun('warm-up', { stop: () => workers.some((w) => !w.running) });
    assertAlive(workers);

    const total = options.keys.length;
    const checkpoints = [...(options.rssCheckpoints ?? [1000, 10_000])].filter((c) => c <= total).sort((a, b) => a - b);
    const rssAtMb: Record<string, number> = {};
    const resultsDir = path.join(options.resultsDir, queueName, 'measured');
    const workerCpu = new CpuMeter(async () => sumOrNull(workers.map((w) => procCpuMs(w.pid))));
    const redisCpu = new CpuMeter(() => redisCpuMs(bq.redis));
    // The benchmark process itself (enqueueing, polling) is part of the run, not of the contention.
    const others = new ContentionMeter(async () => sumOrNull([selfCpuMs(), ...workers.map((w) => procCpuMs(w.pid)), await redisCpuMs(bq.redis)]));
    await workerCpu.begin();
    await redisCpu.begin();
    await others.begin();
    const busyBefore = await Promise.all(ports.map(scrapeBusy));
    const t0 = performance.now();
    await bq.enqueue('measured', fileSources(options.sourceDir, options.keys), `file://${resultsDir}`, model);
    const status = await bq.waitForRun('measured', {
      stop: () => workers.some((w) => !w.running),
      onPoll: (s) => {
        const finished = s.done + s.skipped + s.failed;
        while (checkpoints.length > 0 && finished >= checkpoints[0]) {
          const rss = sampler!.currentMaxMb();
          if (rss !== null) rssAtMb[String(checkpoints[0])] = Math.round(rss);
          checkpoints.shift();
        }
        progress.update(finished, total);
      },
    });
    const ms = performance.now() - t0;
    const busy = busyShares(busyBefore, await Promise.all(ports.map(scrapeBusy)), ms);
    const workerMs = await workerCpu.elapsed();
    const redisMs = await redisCpu.elapsed();
    const contention = await others.share();
    assertAlive(workers);
    sampler.stop();
    const { stages, images, batches } = await readResultTimings(resultsDir);
    const peak = sampler.peakMaxMb();
    return {
      imagesPerSecond: rate(status.done, ms),
      images: status.done,
      seconds: ms / 1000,
      stages: stages.summary(),
      averageBatchSize: batches > 0 ? Math.round((images / batches) * 100) / 100 : null,
      failed: status.failed,
      cpuMsPerImage: perImage(sumOrNull([workerMs, redisMs]), status.done),
      contention,
      cpuMsPerImageBy: { workers: perImage(workerMs, status.done), redis: perImage(redisMs, status.done) },
      workers: options.workers,
      rssPeakMb: peak === null ? null : Math.round(peak),
      rssAtMb,
      busy,
    };
  } finally {
    sampler?.stop();
    await Promise.allSettled(workers.map((w) => w.stop()));
    await bq.close().catch(() => undefined);
    await fs.rm(path.join(options.resultsDir, queueName), { recursive: true, force: true });
  }
}

function assertAlive(workers: readonly FacefleetProcess[]): void {
  const dead = workers.find((w) => !w.running);
  if (dead) throw new Error(`benchmark worker ${dead.pid} exited during the measurement`);
}

/**
 * Stage timings from the result files of a run (a flat folder of `<key>.json`), and the number of
 * batches they ran in: every image of a batch of `b` reports `batchSize: b`, so each contributes `1/b`.
 */
async function readResultTimings(dir: string): Promise<{ stages: StageSamples; images: number; batches: number }> {
  const stages = new StageSamples();
  let batches = 0;
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json'));
  } catch {
    return { stages, images: 0, batches };
  }
  for (const name of names) {
    const result = JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as DetectionResult;
    const t = result.timings;
    stages.add('download', t.downloadMs);
    stages.add('decode', t.decodeMs);
    stages.add('inferenceWithWait', t.inferenceMs);
    stages.add('postprocess', t.postprocessMs);
    batches += 1 / Math.max(1, t.batchSize);
  }
  return { stages, images: names.length, batches };
}
