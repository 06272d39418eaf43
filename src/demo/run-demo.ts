import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { watchRun } from '../progress/run-progress';
import { DEMO_OPTIONS, loadDemoConfig } from '../config/demo-config';
import { MODEL_OPTIONS } from '../config/common';
import { envOf } from '../config/parse';
import { loadWorkerConfig } from '../config/worker-config';
import type { BatchStats } from '../engine/detection-engine';
import { parseReason } from '../errors';
import { annotateImage } from '../imaging/annotate';
import { findRepoRoot } from '../models/registry';
import { ensureRedisServer } from './ensure-redis';
import { enqueueRun } from '../producer/enqueue-run';
import { fromPrefix } from '../producer/key-sources';
import { connectRedis } from '../queue/connection';
import { PrivateRedis, startPrivateRedis } from '../queue/private-redis';
import { MAX_RESULT_BYTES } from '../queue/result';
import { parseResult } from '../queue/result-schema';
import { RunStore } from '../queue/run-store';
import { joinKey } from '../storage/location';
import { StoreRegistry } from '../storage/store-registry';
import { createLogger } from '../telemetry/logger';
import { startWorker } from '../worker/start-worker';

/** The demo's machine-readable summary (`--json`). */
export interface DemoSummary {
  images: number;
  succeeded: number;
  failed: number;
  faces: number;
  imagesPerSecond: number;
  batchMs: { p50: number; p95: number };
  failures: Array<{ key: string; code: string }>;
  results: Array<{ key: string; faces: Array<{ box: number[]; score: number }> }>;
  resultsDir: string;
  annotatedDir: string;
  warnings: string[];
}

/**
 * The embedded default: a private redis-server (unless `REDIS_URL` is set), `file://` storage, the
 * bundled sample photos enqueued as one run, a worker in this process, a progress bar, a summary, and
 * results plus annotated copies left in the output folder.
 */
export async function runDemo(flags: Record<string, unknown>): Promise<DemoSummary> {
  const demo = loadDemoConfig(flags);
  const images = path.resolve(demo.images ?? path.join(findRepoRoot(), 'samples'));
  const out = path.resolve(demo.out);
  const resultsDir = path.join(out, 'results');
  const annotatedDir = path.join(out, 'annotated');
  await fs.rm(out, { recursive: true, force: true });
  await fs.mkdir(annotatedDir, { recursive: true });
  const say = (line: string) => demo.json || process.stderr.write(`${line}\n`);

  let redis: PrivateRedis | undefined;
  if (!process.env.REDIS_URL) ensureRedisServer((line) => process.stderr.write(`${line}\n`));
  const redisUrl = process.env.REDIS_URL || (redis = await startPrivateRedis()).url;
  say(redis ? `started a private redis-server on ${redis.url}` : `using Redis at REDIS_URL`);
  const queueName = `facefleet-demo-${randomBytes(3).toString('hex')}`;
  const modelFlags = Object.fromEntries(Object.keys(MODEL_OPTIONS).map((k) => [k, flags[k]]));
  // The worker takes the demo's model options (flags and their variables) and may use exactly the photo
  // folder and the output folder; the worker's other variables (queue, file roots) do not apply here.
  const config = loadWorkerConfig({ ...modelFlags, redisUrl, queue: queueName, metricsPort: 0, fileRoots: `${images},${out}`, logLevel: demo.logLevel }, envOf(DEMO_OPTIONS, process.env));
  const log = createLogger({ level: demo.logLevel });
  const batches: BatchStats[] = [];
  // First, so a refused password ends the demo at once (E_CONFIG) instead of a worker never ready.
  let conn: Awaited<ReturnType<typeof connectRedis>>;
  try {
    conn = await connectRedis(redisUrl, { onError: (err) => say(`redis: ${err.message}`) });
  } catch (err) {
    await redis?.stop();
    throw err;
  }
  let worker: Awaited<ReturnType<typeof startWorker>>;
  try {
    worker = await startWorker(config, log, { handleSignals: false, onBatch: (b) => batches.push(b) });
  } catch (err) {
    conn.disconnect();
    await redis?.stop();
    throw err;
  }
  const queue = new Queue(queueName, { connection: conn, prefix: config.redisPrefix });
  const runs = new RunStore(conn, { queue: queueName, prefix: config.redisPrefix });
  const stores = new StoreRegistry();
  try {
    const started = Date.now();
    const runId = `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const report = await enqueueRun(queue, conn, runs, fromPrefix(stores, `file://${images}/`), {
      runId,
      results: `file://${resultsDir}`,
      model: config.model,
    });
    say(`enqueued ${report.enqueued} images from ${images} as run ${runId}`);
    const status = await watchRun(runs, runId, { bar: !demo.json && process.stderr.isTTY === true });
    const seconds = (Date.now() - started) / 1000;

    const failed = await queue.getFailed(0, -1);
    const failures = failed.map((j) => ({ key: String(j.data?.key ?? ''), code: parseReason(j.failedReason).code })).sort((a, b) => a.key.localeCompare(b.key));
    const results: DemoSummary['results'] = [];
    const resultStore = stores.resolve(`file://${resultsDir}/`);
    const imageStore = stores.resolve(`file://${images}/`);
    for await (const entry of resultStore.store.list(resultStore.key)) {
      const result = parseResult((await resultStore.store.get(entry.key, { maxBytes: MAX_RESULT_BYTES })).body.toString('utf8'));
      results.push({ key: result.key, faces: result.faces.map((f) => ({ box: f.box, score: f.score })) });
      const image = await imageStore.store.get(joinKey(imageStore.key, result.key), { maxBytes: Math.round(config.maxImageMb * 1024 * 1024) });
      const annotated = await annotateImage(image.body, result.faces);
      await fs.writeFile(path.join(annotatedDir, `${result.key.replace(/\//g, '__')}.jpg`), annotated);
    }
    results.sort((a, b) => a.key.localeCompare(b.key));
    const times = batches.map((b) => b.inferenceMs).sort((a, b) => a - b);
    const pct = (p: number) => (times.length ? Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))] * 10) / 10 : 0);
    const summary: DemoSummary = {
      images: status.total,
      succeeded: status.done + status.skipped,
      failed: status.failed,
      faces: results.reduce((n, r) => n + r.faces.length, 0),
      imagesPerSecond: Math.round((status.total / seconds) * 10) / 10,
      batchMs: { p50: pct(0.5), p95: pct(0.95) },
      failures,
      results,
      resultsDir,
      annotatedDir,
      warnings: worker.model.warnings,
    };
    if (demo.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else printSummary(summary, batches.length);
    return summary;
  } finally {
    await worker.lifecycle.close();
    await queue.close();
    await conn.quit().catch(() => conn.disconnect());
    await stores.closeAll();
    await redis?.stop();
  }
}

function printSummary(s: DemoSummary, batchCount: number): void {
  const w = (line = '') => process.stdout.write(`${line}\n`);
  w();
  w(`facefleet demo: ${s.images} images, ${s.succeeded} succeeded, ${s.failed} failed, ${s.faces} faces found`);
  w(`  ${s.imagesPerSecond} images/s end to end; ${batchCount} batches, inference p50 ${s.batchMs.p50} ms, p95 ${s.batchMs.p95} ms per batch`);
  for (const r of s.results) w(`  ${r.key.padEnd(28)} ${r.faces.length} face(s) ${r.faces.map((f) => f.score.toFixed(2)).join(' ')}`);
  for (const f of s.failures) w(`  ${f.key.padEnd(28)} failed: ${f.code}`);
  for (const warning of s.warnings) w(`  warning: ${warning}`);
  w();
  w(`results:   ${s.resultsDir}`);
  w(`annotated: ${s.annotatedDir}  (open these to see the boxes)`);
}
