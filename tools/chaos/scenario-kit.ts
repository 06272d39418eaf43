import fs from 'node:fs';
import path from 'node:path';
import type { FacefleetProcess } from '../harness/facefleet-process';
import { pollUntil, sleep } from '../harness/poll';
import type { ChaosEnv, ChaosQueue } from './chaos-env';
import { RESULTS_BUCKET } from './chaos-env';
import type { ChaosSizes } from './chaos-options';
import type { ChaosRow } from './chaos-report';
import { auditRun, RunAudit } from './audit';
import type { PhotoRun, PhotoVariant } from './photo-set';

/** What a scenario runs with. */
export interface ScenarioContext {
  env: ChaosEnv;
  sizes: ChaosSizes;
  /** Decodable photos to copy. */
  variants: readonly PhotoVariant[];
  /** Progress for humans (stderr). */
  say(message: string): void;
  /** Credentials an operator might mistype or rotate to: commands given them must not print them. */
  wrong: { redis: string; s3: string };
}

/** A scenario: sets up its run, injects its fault, waits for the outcome and audits it. */
export type Scenario = (ctx: ScenarioContext) => Promise<ChaosRow>;

/** Jobs of a queue that reached an outcome (completed or failed; the suite keeps every job). */
export async function finishedCount(q: ChaosQueue): Promise<number> {
  const c = await q.queue.getJobCounts('completed', 'failed');
  return (c.completed ?? 0) + (c.failed ?? 0);
}

/** Waits until `total` jobs of the queue have an outcome. */
export function waitForOutcomes(q: ChaosQueue, total: number, timeoutMs: number): Promise<number> {
  return pollUntil(`${total} job outcomes on ${q.name}`, async () => {
    const n = await finishedCount(q).catch(() => 0);
    return n >= total ? n : undefined;
  }, timeoutMs, 250);
}

/** Starts `count` workers on a queue and waits until each has loaded its model. */
export async function startWorkers(env: ChaosEnv, q: ChaosQueue, label: string, count: number, args: string[], options: { metrics?: boolean } = {}): Promise<FacefleetProcess[]> {
  const workers: FacefleetProcess[] = [];
  for (let i = 0; i < count; i++) workers.push(await env.spawnWorker(`${label}-${i + 1}`, q.name, args, options));
  await Promise.all(workers.map((w) => w.waitForStart(120_000)));
  return workers;
}

/** Audits a photo run against the results bucket and the server's access log. */
export function auditPhotoRun(env: ChaosEnv, q: ChaosQueue, runId: string, run: PhotoRun, model = 'blazeface'): Promise<RunAudit> {
  return auditRun({
    queue: q.queue,
    runId,
    model,
    keys: run.keys,
    results: env.resultsStore,
    resultsPrefix: run.prefix,
    accessLog: env.s3.readAccessLog(RESULTS_BUCKET),
  });
}

/**
 * The end of a photo run: waits until every image has an outcome, saves what the workers expose for
 * the credential scan, drains them and audits the run; `uncleanStops` counts workers that did not exit 0.
 */
export async function finishPhotoRun(
  env: ChaosEnv,
  q: ChaosQueue,
  workers: readonly FacefleetProcess[],
  label: string,
  runId: string,
  run: PhotoRun,
  options: { timeoutMs?: number; model?: string } = {},
): Promise<{ audit: RunAudit; uncleanStops: number }> {
  await waitForOutcomes(q, run.keys.length, options.timeoutMs ?? 900_000);
  await dumpOutputs(env, q, workers, label);
  const uncleanStops = await stopAll(workers);
  return { audit: await auditPhotoRun(env, q, runId, run, options.model), uncleanStops };
}

/** A table row from an audit. */
export function rowOf(scenario: string, audit: RunAudit, extra: { crashes: number; recoverySeconds: number | null; details?: Record<string, unknown> }): ChaosRow {
  return {
    scenario,
    images: audit.images,
    lost: audit.lost,
    corrupt: audit.corrupt,
    duplicatesExecuted: audit.duplicatesExecuted,
    duplicatesWritten: audit.duplicatesWritten,
    crashes: extra.crashes,
    recoverySeconds: extra.recoverySeconds === null ? null : Math.round(extra.recoverySeconds * 10) / 10,
    details: {
      succeeded: audit.succeeded,
      failed: audit.failed,
      ...(Object.keys(audit.failuresByCode).length ? { failuresByCode: audit.failuresByCode } : {}),
      ...(audit.lostSamples.length ? { lostSamples: audit.lostSamples } : {}),
      ...(audit.corruptSamples.length ? { corruptSamples: audit.corruptSamples } : {}),
      ...extra.details,
    },
  };
}

/** Log lines with message `msg` across the workers' log files. */
export function countLogLines(workers: readonly FacefleetProcess[], msg: string): number {
  const needle = `"msg":${JSON.stringify(msg)}`;
  let n = 0;
  for (const w of workers) {
    if (!w.logFile || !fs.existsSync(w.logFile)) continue;
    for (const line of fs.readFileSync(w.logFile, 'utf8').split('\n')) if (line.includes(needle)) n++;
  }
  return n;
}

/**
 * Saves what a run exposes for the credential scan: each worker's `/metrics` (when it serves one) and
 * every failed job's reason and payload, under the environment's output folder.
 */
export async function dumpOutputs(env: ChaosEnv, q: ChaosQueue, workers: readonly FacefleetProcess[], label: string): Promise<void> {
  for (const w of workers) {
    const metrics = w.running ? await w.probe('/metrics', 5000) : undefined;
    if (metrics) fs.writeFileSync(path.join(env.outDir, `${w.name}.metrics`), metrics.body);
  }
  const failed = await q.queue.getFailed(0, -1);
  fs.writeFileSync(path.join(env.outDir, `${label}-failed.jsonl`), failed.map((j) => JSON.stringify({ id: j.id, reason: j.failedReason, data: j.data })).join('\n'));
}

/**
 * Watches every worker's `/readyz` for `ms` after a fault began at `since`: each one's first 503, in
 * seconds after `since`, or `null` when it answered none.
 */
export async function firstNotReady(workers: readonly FacefleetProcess[], since: number, ms: number): Promise<Array<number | null>> {
  const after: Array<number | null> = workers.map(() => null);
  while (Date.now() - since < ms) {
    await Promise.all(
      workers.map(async (w, i) => {
        if (after[i] === null && (await w.probe('/readyz', 3000))?.status === 503) after[i] = Math.round((Date.now() - since) / 100) / 10;
      }),
    );
    await sleep(250);
  }
  return after;
}

/** Worker processes that died on their own. */
export function crashesOf(workers: readonly FacefleetProcess[]): number {
  return workers.filter((w) => w.crashed).length;
}

/** Drains every worker still running (SIGTERM); resolves with how many did not exit 0. */
export async function stopAll(workers: readonly FacefleetProcess[]): Promise<number> {
  const running = workers.filter((w) => w.running);
  const ends = await Promise.all(running.map((w) => w.stop(30_000)));
  return ends.filter((e) => e.code !== 0).length;
}
