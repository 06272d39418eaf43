import fs from 'node:fs';
import path from 'node:path';
import { redisMemoryMb } from '../../src/producer/enqueue-run';
import type { SourceKey } from '../../src/producer/key-sources';
import { FacefleetProcess } from '../harness/facefleet-process';
import { PHOTOS_BUCKET, RESULTS_BUCKET, SCRUBBED_ENV } from './chaos-env';
import type { ChaosRow } from './chaos-report';
import type { ScenarioContext } from './scenario-kit';

/**
 * A big backlog with no worker running: `jobs` jobs are enqueued and Redis' `used_memory` is read
 * before and after, giving the memory one waiting job costs. Then admission control: an enqueue with
 * `maxRedisMemoryMb` just above the current use must pause (and not overshoot by more than a chunk),
 * and the `facefleet enqueue --max-redis-memory-mb` CLI must say why it waits.
 */
export async function backlogScenario(ctx: ScenarioContext): Promise<ChaosRow> {
  const { env } = ctx;
  const { jobs } = ctx.sizes.backlog;
  const q = env.openQueue('backlog');
  const keys = (n: number, tag: string): SourceKey[] => Array.from({ length: n }, (_, i) => {
    const key = `backlog/${tag}/2026/11/25/album-${String(Math.floor(i / 500)).padStart(4, '0')}/IMG_${String(i).padStart(7, '0')}.jpg`;
    return { source: `s3://${PHOTOS_BUCKET}/${key}`, key };
  });
  const results = `s3://${RESULTS_BUCKET}/backlog`;
  const beforeMb = await redisMemoryMb(q.redis);
  const t0 = Date.now();
  const report = await env.enqueue(q, keys(jobs, 'main'), { runId: 'chaos-backlog', results, maxBacklog: jobs + 1 });
  const enqueueSeconds = (Date.now() - t0) / 1000;
  const afterMb = await redisMemoryMb(q.redis);
  const waiting = (await q.queue.getJobCounts('waiting')).waiting ?? 0;
  const bytesPerJob = Math.round(((afterMb - beforeMb) * 1048576) / jobs);
  ctx.say(`backlog: ${waiting} jobs waiting, ${bytesPerJob} bytes of Redis memory each`);

  // Admission control in the library: a bound 2 MiB above what Redis uses now.
  const limitMb = Math.ceil(afterMb) + 2;
  const abort = new AbortController();
  let pausedAtMb: number | undefined;
  const extra = await env.enqueue(q, keys(Math.max(5000, Math.floor(jobs / 5)), 'admission'), {
    runId: 'chaos-backlog-admission',
    results,
    maxBacklog: jobs * 10,
    maxRedisMemoryMb: limitMb,
    backlogPollMs: 100,
    onMemoryPressure: (used) => {
      pausedAtMb ??= used;
      abort.abort();
    },
    signal: abort.signal,
  });
  // And through the CLI, whose message must name the bound.
  const cliMessage = await cliPauseMessage(env.processEnv(), q.name, ctx.env.outDir, Math.floor(afterMb));
  const lost = jobs - waiting;
  return {
    scenario: 'backlog',
    images: jobs,
    lost,
    corrupt: 0,
    duplicatesExecuted: 0,
    duplicatesWritten: 0,
    crashes: 0,
    recoverySeconds: null,
    details: {
      enqueued: report.enqueued,
      waiting,
      enqueueSeconds: Math.round(enqueueSeconds * 10) / 10,
      jobsPerSecond: Math.round(jobs / enqueueSeconds),
      redisMbBefore: round(beforeMb),
      redisMbAfter: round(afterMb),
      bytesPerJob,
      admission: { limitMb, pausedAtMb: pausedAtMb === undefined ? null : round(pausedAtMb), enqueuedBeforePause: extra.enqueued },
      cliMessage,
      note: `${jobs} waiting jobs: ${bytesPerJob} B of Redis memory per job (${round(afterMb - beforeMb)} MiB); --max-redis-memory-mb ${limitMb} paused the producer at ${pausedAtMb === undefined ? '-' : round(pausedAtMb)} MiB`,
    },
  };
}

/** Runs `facefleet enqueue --max-redis-memory-mb <limit>` until it prints why it waits; returns that line. */
async function cliPauseMessage(env: Record<string, string>, queue: string, dir: string, limitMb: number): Promise<string | null> {
  const manifest = path.join(dir, 'backlog-manifest.txt');
  fs.writeFileSync(manifest, Array.from({ length: 3000 }, (_, i) => `s3://${PHOTOS_BUCKET}/backlog/cli/${i}.jpg`).join('\n'));
  const args = ['enqueue', '--queue', queue, '--manifest', manifest, '--results', `s3://${RESULTS_BUCKET}/backlog-cli`, '--run-id', 'chaos-backlog-cli', '--max-backlog', '100000000', '--max-redis-memory-mb', String(limitMb)];
  const child = FacefleetProcess.spawn(args, { scrub: SCRUBBED_ENV, env, logFile: path.join(dir, 'backlog-cli.stderr') });
  const line = await child.waitForOutput(/^facefleet enqueue: waiting: .*$/m, 60_000).then((m) => m[0], () => null);
  child.signal('SIGINT');
  await child.exited;
  return line;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
