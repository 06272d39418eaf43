import type { ChaosRow } from './chaos-report';
import type { FacefleetProcess } from '../harness/facefleet-process';
import { pollUntil, sleep } from '../harness/poll';
import { uploadPhotos } from './photo-set';
import { crashesOf, finishedCount, finishPhotoRun, firstNotReady, rowOf, ScenarioContext, startWorkers } from './scenario-kit';

/** Worker flags of the Redis scenarios: production defaults apart from the batch size. */
const WORKER_ARGS = ['--batch', '8', '--concurrency', '16'];

/**
 * Redis restarted mid-run (SIGTERM, then started again on the same port from its AOF), while workers
 * process and a producer is still enqueueing the second half of the run: workers and producer must
 * reconnect on their own and nothing may be lost. Recovery: from Redis answering again until every
 * worker is ready and a job has completed since.
 */
export async function redisRestart(ctx: ScenarioContext): Promise<ChaosRow> {
  const { env } = ctx;
  const { images } = ctx.sizes.redis;
  const run = await uploadPhotos(env, 'redis-restart', images, ctx.variants);
  const q = env.openQueue('redis-restart');
  const runId = 'chaos-redis-restart';
  const half = Math.floor(images / 2);
  // The first half goes in unsealed (a second producer call continues the run).
  await env.enqueue(q, run.keys.slice(0, half), { runId, results: run.results, chunkSize: 50 });
  const workers = await startWorkers(env, q, 'redis-restart', 2, WORKER_ARGS, { metrics: true });
  await pollUntil('a quarter of the run', async () => ((await finishedCount(q)) >= Math.floor(images / 4) ? true : undefined), 600_000, 50);
  // The producer keeps adding the second half, in small chunks, across the restart.
  const producing = env.enqueue(q, run.keys.slice(half), { runId, results: run.results, chunkSize: 20 });
  await sleep(50);
  const before = await finishedCount(q);
  await env.redis.restart();
  const upAt = Date.now();
  ctx.say(`redis-restart: Redis restarted at ${before}/${images}`);
  const recovery = await recovered(workers, async () => (await finishedCount(q)) > before, upAt);
  const enqueued = await producing;
  const { audit, uncleanStops } = await finishPhotoRun(env, q, workers, 'redis-restart', runId, run);
  return rowOf('redis-restart', audit, {
    crashes: crashesOf(workers),
    recoverySeconds: recovery,
    details: {
      secondHalfEnqueued: enqueued.enqueued,
      uncleanStops,
      note: 'Redis (AOF everysec) restarted mid-run while a producer was enqueueing; recovery = Redis up → all workers ready and a job completed',
    },
  });
}

/**
 * Redis stopped for `stopSeconds` mid-run: every worker must answer `/readyz` with 503 while it is
 * down, and come back (ready, completing jobs) on its own once Redis is started again on the same port.
 */
export async function redisStop(ctx: ScenarioContext): Promise<ChaosRow> {
  const { env } = ctx;
  const { images, stopSeconds } = ctx.sizes.redis;
  const run = await uploadPhotos(env, 'redis-stop', images, ctx.variants);
  const q = env.openQueue('redis-stop');
  const runId = 'chaos-redis-stop';
  await env.enqueue(q, run.keys, { runId, results: run.results });
  const workers = await startWorkers(env, q, 'redis-stop', 2, WORKER_ARGS, { metrics: true });
  await pollUntil('a third of the run', async () => ((await finishedCount(q)) >= Math.floor(images / 3) ? true : undefined), 600_000, 50);
  const before = await finishedCount(q);
  const stoppedAt = Date.now();
  await env.redis.stop();
  ctx.say(`redis-stop: Redis stopped at ${before}/${images} for ${stopSeconds} s`);
  // Each worker's first 503 on /readyz during the outage, seconds after the stop.
  const notReadyAfter = await firstNotReady(workers, stoppedAt, stopSeconds * 1000);
  await env.redis.start();
  const upAt = Date.now();
  const recovery = await recovered(workers, async () => (await finishedCount(q)) > before, upAt);
  const { audit, uncleanStops } = await finishPhotoRun(env, q, workers, 'redis-stop', runId, run);
  return rowOf('redis-stop', audit, {
    crashes: crashesOf(workers),
    recoverySeconds: recovery,
    details: {
      stopSeconds,
      notReadyAfterSeconds: notReadyAfter,
      uncleanStops,
      note: `Redis stopped ${stopSeconds} s mid-run; /readyz went 503 on ${notReadyAfter.filter((n) => n !== null).length}/${workers.length} workers; recovery = Redis up → all ready and a job completed`,
    },
  });
}

/** Seconds from `since` until every worker answers `/readyz` 200 and `progressed()` holds. */
async function recovered(workers: readonly FacefleetProcess[], progressed: () => Promise<boolean>, since: number): Promise<number> {
  await pollUntil('workers ready again', async () => {
    const answers = await Promise.all(workers.map((w) => w.probe('/readyz', 3000)));
    return answers.every((a) => a?.status === 200) ? true : undefined;
  }, 300_000, 100);
  await pollUntil('a job completed after the fault', async () => ((await progressed().catch(() => false)) ? true : undefined), 300_000, 100);
  return (Date.now() - since) / 1000;
}
