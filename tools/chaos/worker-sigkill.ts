import type { ChaosRow } from './chaos-report';
import type { FacefleetProcess } from '../harness/facefleet-process';
import { pollUntil } from '../harness/poll';
import { uploadPhotos } from './photo-set';
import { countLogLines, crashesOf, finishedCount, finishPhotoRun, rowOf, ScenarioContext } from './scenario-kit';

/** Flags of the workers: a short lock and stalled check, so a dead worker's jobs come back in seconds. */
export const SIGKILL_WORKER_ARGS = ['--batch', '8', '--concurrency', '16', '--lock-duration-ms', '5000', '--stalled-interval-ms', '1000'];

/**
 * Worker SIGKILL, repeatedly: `workers` processes chew through the run; at evenly spaced points of
 * progress one of them, in turn, is killed with SIGKILL while it holds jobs, and a replacement is
 * started. Recovery of a kill is the time until every job that was active at that moment has an
 * outcome (its lock expires, the stalled check requeues it, another worker finishes it).
 */
export async function workerSigkill(ctx: ScenarioContext): Promise<ChaosRow> {
  const { images, workers: size, kills } = ctx.sizes.sigkill;
  const { env } = ctx;
  const run = await uploadPhotos(env, 'worker-sigkill', images, ctx.variants);
  const q = env.openQueue('sigkill');
  const runId = 'chaos-sigkill';
  await env.enqueue(q, run.keys, { runId, results: run.results });

  const all: FacefleetProcess[] = [];
  let spawned = 0;
  const spawn = async () => {
    const w = await env.spawnWorker(`sigkill-${++spawned}`, q.name, SIGKILL_WORKER_ARGS);
    all.push(w);
    return w;
  };
  const pool: FacefleetProcess[] = [];
  for (let i = 0; i < size; i++) pool.push(await spawn());
  await Promise.all(pool.map((w) => w.waitForStart(120_000)));

  const recoveries: Array<Promise<number>> = [];
  const activeAtKill: number[] = [];
  for (let k = 1; k <= kills; k++) {
    // A kill waits until the jobs of the kill before the last were recovered, so no job is held at
    // three kills: back to back, the same requeued jobs were caught again and again until the
    // poison rule (three dead holders) quarantined good photos.
    await recoveries[recoveries.length - 2];
    const target = Math.floor((images * k) / (kills + 2));
    const reached = await pollUntil(`progress ${target}/${images}`, async () => ((await finishedCount(q)) >= target ? true : undefined), 600_000, 50).catch(() => false);
    const done = await finishedCount(q);
    // Too late for this kill to hit a busy fleet: the run is all but over.
    if (!reached || done >= images * 0.95) break;
    const index = (k - 1) % pool.length;
    const victim = pool[index];
    const active = (await q.queue.getActive()).map((j) => String(j.id));
    activeAtKill.push(active.length);
    const killedAt = Date.now();
    await victim.kill();
    ctx.say(`worker-sigkill: kill ${k}/${kills} at ${done}/${images} (${active.length} jobs active)`);
    pool[index] = await spawn();
    recoveries.push(
      pollUntil('jobs of the killed worker', async () => {
        const states = await Promise.all(active.map((id) => q.queue.getJobState(id)));
        return states.every((s) => s === 'completed' || s === 'failed') ? (Date.now() - killedAt) / 1000 : undefined;
      }, 300_000, 100),
    );
  }
  const { audit, uncleanStops } = await finishPhotoRun(env, q, all, 'worker-sigkill', runId, run);
  // Each recovery ended when its jobs had outcomes, all of them before the run finished.
  const recovery = await Promise.all(recoveries);
  return rowOf('worker-sigkill', audit, {
    crashes: crashesOf(all),
    recoverySeconds: recovery.length ? Math.max(...recovery) : null,
    details: {
      kills: recovery.length,
      workers: size,
      activeAtKill,
      meanRecoverySeconds: recovery.length ? round1(recovery.reduce((a, b) => a + b, 0) / recovery.length) : null,
      uncleanStops,
      resultsKeptFromEarlierExecution: countLogLines(all, 'result already written by an earlier execution: kept'),
      note: `${recovery.length} SIGKILLs with ${size} workers; recovery = worst time until the jobs in hand at a kill had an outcome (5 s lock, 1 s stalled check)`,
    },
  });
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
