import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FacefleetError } from '../../src/errors';
import { resolveModelCacheDir } from '../../src/models/model-cache';
import { findRepoRoot } from '../../src/models/registry';
import type { ChaosRow } from './chaos-report';
import { uploadPhotos } from './photo-set';
import { crashesOf, finishPhotoRun, rowOf, ScenarioContext, startWorkers } from './scenario-kit';

/**
 * The lock the slow batches outlast. BullMQ renews it every half lock on the main thread, which also
 * packs each batch's tensor (0.2–1 s for 8 × 1280² on an idle machine): with the 5 s minimum, a
 * machine loaded four times over stalled the main thread past a renewal and 8 jobs ran twice, so the
 * lock leaves room for that and the batches are still longer.
 */
const LOCK_MS = 10_000;

/**
 * A random-init MogFace "tiny" export (shapes and speed only, no weights to download), made once with
 * the repository's exporter into the model cache. Needs Debian's `python3-torch` and `python3-onnx`.
 */
export function mogfaceTinyModel(): string {
  const file = path.join(resolveModelCacheDir(), 'chaos', 'mogface-tiny-seed1.onnx');
  if (fs.existsSync(file) && fs.existsSync(`${file}.manifest.json`)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const out = spawnSync(python, [path.join(findRepoRoot(), 'models', 'mogface', 'export.py'), '--random-init', '--seed', '1', '--variant', 'tiny', '--output', file], { encoding: 'utf8', timeout: 300_000 });
  if (out.status !== 0) throw new FacefleetError('E_MODEL', `MogFace tiny export failed (needs python3-torch and python3-onnx): ${(out.stderr || out.stdout || String(out.error)).slice(-800)}`);
  return file;
}

/**
 * Slow inference against the lock: MogFace at a large canvas makes each batch take longer than the
 * 10 s job lock, with two workers and a 1 s stalled-job check watching. Lock renewal runs on the main
 * thread while the batch computes in the inference thread, so no lock may expire and no job may be
 * taken by the second worker: duplicate executions must be 0. The longest batch is reported to show
 * the lock really was outlasted.
 */
export async function slowInference(ctx: ScenarioContext): Promise<ChaosRow> {
  const { env } = ctx;
  const { images, canvas, batch } = ctx.sizes.slow;
  const model = mogfaceTinyModel();
  const run = await uploadPhotos(env, 'slow-inference', images, ctx.variants);
  const q = env.openQueue('slow-inference');
  const runId = 'chaos-slow-inference';
  await env.enqueue(q, run.keys, { runId, results: run.results, model: 'mogface' });
  const args = [
    '--model', 'mogface', '--model-path', model, '--canvas', String(canvas), '--batch', String(batch), '--concurrency', String(batch),
    '--max-wait-ms', '3000', '--threads', '1', '--lock-duration-ms', String(LOCK_MS), '--stalled-interval-ms', '1000',
  ];
  const workers = await startWorkers(env, q, 'slow-inference', 2, args);
  const { audit, uncleanStops } = await finishPhotoRun(env, q, workers, 'slow-inference', runId, run, { timeoutMs: 1_800_000, model: 'mogface' });
  const batchMs: number[] = [];
  for (const w of workers) {
    if (!w.logFile) continue;
    for (const line of fs.readFileSync(w.logFile, 'utf8').split('\n')) {
      if (!line.includes('"msg":"batch"')) continue;
      try {
        const ms = (JSON.parse(line) as { inferenceMs?: number }).inferenceMs;
        if (typeof ms === 'number') batchMs.push(ms);
      } catch {
        // A line cut by the process ending: not a batch record.
      }
    }
  }
  const longest = batchMs.length ? Math.max(...batchMs) : 0;
  return rowOf('slow-inference', audit, {
    crashes: crashesOf(workers),
    recoverySeconds: null,
    details: {
      lockMs: LOCK_MS,
      batches: batchMs.length,
      longestBatchMs: Math.round(longest),
      batchesLongerThanLock: batchMs.filter((ms) => ms > LOCK_MS).length,
      uncleanStops,
      note: `MogFace tiny at ${canvas}px, batch ${batch}: longest batch ${(longest / 1000).toFixed(1)} s vs a ${LOCK_MS / 1000} s lock, 2 workers, 1 s stalled check`,
    },
  });
}
