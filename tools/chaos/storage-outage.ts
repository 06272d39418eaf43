import type { ChaosRow } from './chaos-report';
import { uploadPhotos } from './photo-set';
import { pollUntil } from '../harness/poll';
import { countLogLines, crashesOf, finishedCount, finishPhotoRun, firstNotReady, rowOf, ScenarioContext, startWorkers } from './scenario-kit';

/**
 * The S3 server stopped for `outageSeconds` mid-run and started again on the same port and data
 * folder: downloads and uploads fail with `E_STORAGE` (transient) meanwhile; jobs must go back to the
 * queue rather than to a terminal failure, nothing may be marked done without its result, and the run
 * must complete once storage is back. Records whether `/readyz` dropped during the outage.
 */
export async function storageOutage(ctx: ScenarioContext): Promise<ChaosRow> {
  const { env } = ctx;
  const { images, outageSeconds } = ctx.sizes.storage;
  const run = await uploadPhotos(env, 'storage-outage', images, ctx.variants);
  const q = env.openQueue('storage-outage');
  const runId = 'chaos-storage-outage';
  await env.enqueue(q, run.keys, { runId, results: run.results });
  const workers = await startWorkers(env, q, 'storage-outage', 2, ['--batch', '8', '--concurrency', '16'], { metrics: true });
  await pollUntil('a quarter of the run', async () => ((await finishedCount(q)) >= Math.floor(images / 4) ? true : undefined), 600_000, 50);
  const before = await finishedCount(q);
  const stoppedAt = Date.now();
  await env.s3.stop();
  ctx.say(`storage-outage: S3 server stopped at ${before}/${images} for ${outageSeconds} s`);
  const notReadyAfter = await firstNotReady(workers, stoppedAt, outageSeconds * 1000);
  const failedDuringOutage = (await q.queue.getJobCounts('failed')).failed ?? 0;
  await env.s3.start();
  const upAt = Date.now();
  const completedAtRestart = (await q.queue.getJobCounts('completed')).completed ?? 0;
  // Recovery: the first completion after storage is back (none at all if the outage failed every job).
  const recovery = await pollUntil('a job outcome after storage came back', async () => {
    const c = await q.queue.getJobCounts('completed', 'failed');
    if ((c.completed ?? 0) > completedAtRestart) return (Date.now() - upAt) / 1000;
    return (c.completed ?? 0) + (c.failed ?? 0) >= images ? null : undefined;
  }, 600_000, 100);
  const { audit, uncleanStops } = await finishPhotoRun(env, q, workers, 'storage-outage', runId, run);
  return rowOf('storage-outage', audit, {
    crashes: crashesOf(workers),
    recoverySeconds: recovery,
    details: {
      outageSeconds,
      failedDuringOutage,
      putBackWithoutAttempt: countLogLines(workers, 'storage unreachable: job put back without using an attempt'),
      notReadyAfterSeconds: notReadyAfter,
      uncleanStops,
      note: `S3 server stopped ${outageSeconds} s mid-run; ${audit.failed} images ended failed, /readyz 503 on ${notReadyAfter.filter((n) => n !== null).length}/${workers.length} workers; recovery = storage up → a job completed`,
    },
  });
}
