import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../models/registry';
import { redisMemoryMb } from '../producer/enqueue-run';
import type { SourceKey } from '../producer/key-sources';
import { PHOTOS_BUCKET, RESULTS_BUCKET } from './chaos-env';
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
  const root = findRepoRoot();
  const child = spawn(process.execPath, [path.join(root, 'bin', 'facefleet.js'), 'enqueue', '--queue', queue, '--manifest', manifest, '--results', `s3://${RESULTS_BUCKET}/backlog-cli`, '--run-id', 'chaos-backlog-cli', '--max-backlog', '100000000', '--max-redis-memory-mb', String(limitMb)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const line = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 60_000);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /^facefleet enqueue: waiting: .*$/m.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
  child.kill('SIGINT');
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  fs.writeFileSync(path.join(dir, 'backlog-cli.stderr'), stderr);
  return line;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
