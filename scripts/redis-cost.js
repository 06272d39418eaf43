#!/usr/bin/env node
/**
 * What one image costs redis-server in CPU: the figure a fleet is sized by (docs/kubernetes.md,
 * "Sizing the shards"). Starts a private redis-server (AOF everysec, as production should run) and
 * reads its own CPU counters (`INFO cpu`: used_cpu_user + used_cpu_sys) around each phase, so the
 * client's CPU never counts:
 *
 *   bare-addBulk     BullMQ's addBulk of the same jobs, nothing else (the floor of enqueueing)
 *   enqueue          facefleet's enqueueRun: the duplicate check, addBulk, the run's totals
 *   process-bullmq   a BullMQ worker with facefleet's worker options that counts nothing (the floor)
 *   process-per-job  the same, each job counting its outcome with one run-record call (how workers
 *                    counted before the outcome marks)
 *   process          facefleet's FleetWorker: outcomes counted once per job, several jobs per call
 *   process-keep0    the same with completed jobs removed at once instead of the last 1000 kept
 *   monitor          one queue-monitor refresh (every worker does one per consumed shard every 5 s)
 *
 * Jobs are processed by a stub that answers at once (no download, no inference), so only the queue's
 * own work is measured. Built sources are read from dist/: run `npm run -s build` first.
 *
 *   node scripts/redis-cost.js                      # 20000 jobs per phase, 3 rounds, 1 shard
 *   node scripts/redis-cost.js --jobs 50000 --rounds 5 --shards 4 --json
 *   node scripts/redis-cost.js --pin                # redis-server on a core of its own (taskset)
 */
'use strict';
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const dist = path.resolve(__dirname, '..', 'dist', 'src');
const load = (m) => require(path.join(dist, m));

function option(args, flag, fallback) {
  const i = args.indexOf(flag);
  return i < 0 ? fallback : Number(args[i + 1]);
}

/** redis-server's own CPU time so far, µs. */
async function cpuMicros(redis) {
  const info = await redis.info('cpu');
  const field = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)[1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

async function measure(redis, fn) {
  const before = await cpuMicros(redis);
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  return { cpuUs: (await cpuMicros(redis)) - before, wallMs };
}

/**
 * `--pin`: redis-server on the last CPU, this process on the others (Linux `taskset`), so the client's
 * work does not compete with the server for a core.
 */
function pin(port) {
  const { spawnSync } = require('node:child_process');
  const cpus = require('node:os').availableParallelism();
  if (cpus < 2) return;
  const pid = spawnSync('pgrep', ['-f', `redis-server 127.0.0.1:${port}`], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  if (!pid) throw new Error(`--pin: no redis-server process found on port ${port}`);
  for (const [target, list] of [[pid, String(cpus - 1)], [String(process.pid), `0-${cpus - 2}`]]) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', list, target], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`--pin: taskset failed: ${r.stderr}`);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const args = process.argv.slice(2);
  const jobs = option(args, '--jobs', 20000);
  const rounds = option(args, '--rounds', 3);
  const shards = option(args, '--shards', 1);
  const json = args.includes('--json');
  const { Queue, Worker, MetricsTime } = require('bullmq');
  const { startPrivateRedis } = load('queue/private-redis');
  const { createRedis } = load('queue/connection');
  const { enqueueRun } = load('producer/enqueue-run');
  const { RunStore } = load('queue/run-store');
  const { shardsOf } = load('queue/shards');
  const { jobOptions, DEFAULT_JOB_POLICY } = load('queue/job-options');
  const { JOB_NAME, jobIdFor } = load('queue/job-data');
  const { FleetWorker, MAX_STALLS } = load('worker/fleet-worker');
  const { QueueMonitor } = load('telemetry/queue-monitor');
  const { FleetMetrics } = load('telemetry/metrics');
  const pino = require('pino');

  const server = await startPrivateRedis({ aof: true });
  if (args.includes('--pin')) pin(server.port);
  const redis = createRedis(server.url);
  const log = pino({ level: 'silent' });
  const rows = {};
  const add = (name, r) => (rows[name] ??= []).push(r);
  const keysOf = (round, tag) => Array.from({ length: jobs }, (_, i) => ({ source: `s3://photos/r${round}/${tag}/img_${String(i).padStart(7, '0')}.jpg`, key: `r${round}/${tag}/img_${i}.jpg` }));
  async function* stream(list) {
    yield* list;
  }
  /** BullMQ worker options as FleetWorker sets them (24 jobs held, split between the shards). */
  const workerOptions = (s) => ({ connection: redis, prefix: s.prefix, concurrency: Math.ceil(24 / shards), lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: MAX_STALLS + 1, metrics: { maxDataPoints: MetricsTime.ONE_WEEK }, autorun: false });
  const stub = { model: { id: 'blazeface', version: 'bench' }, process: async (data) => ({ status: 'done', key: data.key, result: 'file:///dev/null', faces: 0 }) };

  /** Waits until every shard's queue has no job waiting or active. */
  async function drained(queues) {
    for (;;) {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'prioritized', 'delayed')));
      if (counts.every((c) => Object.values(c).every((v) => v === 0))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  try {
    for (let round = 0; round < rounds; round++) {
      const target = { queue: `cost-${round}`, prefix: 'bull', shards };
      const layout = shardsOf(target);
      const queues = layout.map((s) => new Queue(s.queue, { connection: redis, prefix: s.prefix }));
      const runs = new RunStore(redis, target);
      const opts = jobOptions(DEFAULT_JOB_POLICY);

      // Floor: addBulk of the same payloads into one queue, 1000 per call, no check, no run record.
      const bare = new Queue(`bare-${round}`, { connection: redis, prefix: 'bull' });
      const bareKeys = keysOf(round, 'bare');
      add('bare-addBulk', await measure(redis, async () => {
        for (let i = 0; i < bareKeys.length; i += 1000) {
          await bare.addBulk(bareKeys.slice(i, i + 1000).map((k) => ({ name: JOB_NAME, data: { v: 1, source: k.source, results: 's3://faces/', runId: 'bare', model: 'blazeface', key: k.key }, opts: { ...opts, jobId: jobIdFor(k.source, 'blazeface', 'bare') } })));
        }
      }));
      await bare.obliterate({ force: true });
      await bare.close();

      // BullMQ's own processing: a worker with facefleet's options whose jobs count nothing.
      await enqueueRun(queues, redis, runs, stream(keysOf(round, 'bw')), { runId: 'bw', results: 's3://faces/', model: 'blazeface' });
      const bareWorkers = layout.map((s) => new Worker(s.queue, async (job) => stub.process(job.data), workerOptions(s)));
      add('process-bullmq', await measure(redis, async () => {
        for (const w of bareWorkers) void w.run();
        await drained(queues);
      }));
      await Promise.all(bareWorkers.map((w) => w.close()));

      // facefleet's enqueue, then its worker.
      add('enqueue', await measure(redis, () => enqueueRun(queues, redis, runs, stream(keysOf(round, 'ff')), { runId: 'ff', results: 's3://faces/', model: 'blazeface' })));
      const fleet = new FleetWorker(stub, redis, { target, concurrency: 24, lockDurationMs: 60_000, stalledIntervalMs: 30_000, autorun: false }, log);
      add('process', await measure(redis, async () => {
        void fleet.run();
        await drained(queues);
      }));
      await fleet.close();

      // The same jobs counted one call per job (the former way), same worker options otherwise.
      await enqueueRun(queues, redis, runs, stream(keysOf(round, 'pj')), { runId: 'pj', results: 's3://faces/', model: 'blazeface' });
      const perJob = layout.map((s) => new Worker(s.queue, async (job) => {
        await runs.record('pj', 'done', undefined, s.index);
        return stub.process(job.data);
      }, workerOptions(s)));
      add('process-per-job', await measure(redis, async () => {
        for (const w of perJob) void w.run();
        await drained(queues);
      }));
      await Promise.all(perJob.map((w) => w.close()));

      // Completed jobs removed at once (removeOnComplete: true) instead of the last 1000 kept.
      await enqueueRun(queues, redis, runs, stream(keysOf(round, 'k0')), { runId: 'k0', results: 's3://faces/', model: 'blazeface', policy: { ...DEFAULT_JOB_POLICY, keepCompleted: 0 } });
      const keep0 = new FleetWorker(stub, redis, { target, concurrency: 24, lockDurationMs: 60_000, stalledIntervalMs: 30_000, autorun: false }, log);
      add('process-keep0', await measure(redis, async () => {
        void keep0.run();
        await drained(queues);
      }));
      await keep0.close();

      // One monitor refresh of a shard that holds jobs (a backlog of `jobs` waiting).
      await enqueueRun(queues, redis, runs, stream(keysOf(round, 'mon')), { runId: 'mon', results: 's3://faces/', model: 'blazeface' });
      const monitor = new QueueMonitor(queues[0], new FleetMetrics({ defaultMetrics: false }));
      const refreshes = 200;
      const m = await measure(redis, async () => {
        for (let i = 0; i < refreshes; i++) await monitor.refresh();
      });
      add('monitor', { cpuUs: m.cpuUs / refreshes * jobs, wallMs: m.wallMs });

      for (const q of queues) await q.obliterate({ force: true });
      await Promise.all(queues.map((q) => q.close()));
      await redis.del(...(await redis.keys('bull:*')));
    }
  } finally {
    await redis.quit().catch(() => redis.disconnect());
    await server.stop();
  }

  const report = Object.fromEntries(Object.entries(rows).map(([name, rs]) => [name, { usPerJob: Math.round((median(rs.map((r) => r.cpuUs)) / jobs) * 10) / 10, jobsPerS: Math.round(jobs / (median(rs.map((r) => r.wallMs)) / 1000)) }]));
  report.monitor = { usPerRefresh: report.monitor.usPerJob };
  if (json) {
    process.stdout.write(`${JSON.stringify({ jobs, rounds, shards, redis: 'AOF everysec', phases: report })}\n`);
    return;
  }
  process.stdout.write(`redis-server CPU per job, median of ${rounds} round(s) of ${jobs} jobs, ${shards} shard(s), AOF everysec:\n`);
  for (const [name, r] of Object.entries(report)) {
    if (name === 'monitor') process.stdout.write(`  ${name.padEnd(16)} ${String(r.usPerRefresh).padStart(7)} µs per refresh\n`);
    else process.stdout.write(`  ${name.padEnd(16)} ${String(r.usPerJob).padStart(7)} µs/job   (${r.jobsPerS} jobs/s on the client)\n`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
