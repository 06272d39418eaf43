import { Queue } from 'bullmq';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { RunStore } from '../../src/queue/run-store';
import { uniqueQueue } from '../../tools/harness/redis';
import type { FacefleetProcess, SpawnOptions } from '../../tools/harness/facefleet-process';
import { pollUntil } from '../../tools/harness/poll';
import { copyPhotos } from '../support/photo-runs';
import { redisSuite } from '../support/redis-suite';

/** True when the installed onnxruntime-node ships the CUDA provider (then `--providers cuda` may load). */
function ortHasCuda(): boolean {
  const bin = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin');
  return fs.readdirSync(bin, { recursive: true }).some((f) => /onnxruntime_providers_cuda/.test(String(f)));
}

/**
 * Fatal start errors with real processes: a bad configuration (exit 64) or a model that cannot load
 * (exit 1) ends the worker with a message naming the problem, before it takes a job (each queue holds
 * one waiting job that must still be waiting afterwards); a start that fails part-way closes what it
 * opened and the process ends on its own.
 */
describe('worker fatal start errors', () => {
  const suite = redisSuite('ff-fatal-');
  const { procs, stores } = suite;

  beforeAll(async () => {
    copyPhotos(path.join(suite.tmp, 'photos'), 1);
  });

  /** A fresh queue holding one waiting job. */
  async function queueWithOneJob(): Promise<{ name: string; queue: Queue }> {
    const name = uniqueQueue('fatal');
    const queue = new Queue(name, { connection: suite.conn, prefix: 'bull' });
    suite.onClose(() => queue.close());
    const runs = new RunStore(suite.conn, { queue: name, prefix: 'bull' });
    const report = await enqueueRun(queue, suite.conn, runs, fromPrefix(stores, `file://${suite.tmp}/photos/`), { runId: `${name}-run`, results: `file://${suite.tmp}/results/${name}`, model: 'retinaface' });
    expect(report.enqueued).toBe(1);
    return { name, queue };
  }

  /** Runs a worker that must not start; returns it after its exit. */
  async function failedStart(flags: string[], options: SpawnOptions = {}): Promise<{ worker: FacefleetProcess; code: number | null }> {
    const { name, queue } = await queueWithOneJob();
    const worker = procs.spawnWorker(suite.redis.url, name, flags, options);
    const { code, signal } = await worker.waitForExit(60_000);
    expect(signal).toBeNull();
    expect(code).not.toBe(0);
    expect(worker.log('worker started')).toBeUndefined();
    expect(await queue.getJobCounts('waiting', 'active', 'completed', 'failed')).toEqual({ waiting: 1, active: 0, completed: 0, failed: 0 });
    return { worker, code };
  }

  it('--model mogface without --model-path: exits 64 naming modelPath', async () => {
    const { worker, code } = await failedStart(['--model', 'mogface']);
    expect(code).toBe(64);
    expect(worker.log('worker cannot start')).toMatchObject({ level: 60, code: 'E_CONFIG' });
    expect(worker.stderr).toMatch(/facefleet worker: E_CONFIG: .*modelPath.*--model-path/);
  });

  it('--batch 0: exits 64 with a config error naming batch and the value given', async () => {
    const { worker, code } = await failedStart(['--batch', '0']);
    expect(code).toBe(64);
    expect(worker.log('worker cannot start')).toMatchObject({ code: 'E_CONFIG' });
    expect(worker.stderr).toMatch(/batch \(--batch\): .*given "0"/);
  });

  it('a bad value in the environment (FACEFLEET_CONCURRENCY=-1): exits 64 naming the variable', async () => {
    const { name, queue } = await queueWithOneJob();
    const worker = procs.spawnWorker(suite.redis.url, name, [], { env: { FACEFLEET_CONCURRENCY: '-1' } });
    expect(await worker.waitForExit(60_000)).toEqual({ code: 64, signal: null });
    expect(worker.log('worker cannot start')).toMatchObject({ level: 60, code: 'E_CONFIG' });
    expect(worker.stderr).toMatch(/FACEFLEET_CONCURRENCY.*given "-1"/);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  (ortHasCuda() ? it.skip : it)('--providers cuda on a CPU-only onnxruntime: exits 1 naming the provider', async () => {
    const { worker, code } = await failedStart(['--providers', 'cuda']);
    expect(code).toBe(1);
    expect(worker.log('worker cannot start')).toMatchObject({ level: 60, code: 'E_MODEL' });
    expect(worker.stderr).toMatch(/facefleet worker: E_MODEL: cannot load model .* with providers \[cuda\]/);
  });

  it('a start that fails after the model, Redis and the BullMQ worker are open (metrics port taken): closes them and exits 64 on its own', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const { worker, code } = await failedStart(['--metrics-port', String(port), '--metrics-host', '127.0.0.1'], { logLevel: 'debug' });
      expect(code).toBe(64);
      expect(worker.log('worker cannot start')).toMatchObject({ level: 60, code: 'E_CONFIG' });
      expect(worker.stderr).toMatch(new RegExp(`facefleet worker: E_CONFIG: metricsPort \\(--metrics-port\\): cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      // Everything it had opened was closed; nothing was left to hold the process (failStart's fallback
      // exit would have said so). The order of the steps is the lifecycle's (test/unit/fail-start.test.ts):
      // their log lines can reach stderr out of order, so only the first is checked here.
      const steps = worker.logs().filter((l) => l.msg === 'shutdown step done').map((l) => String(l.step));
      expect(steps[0]).toBe('stop fetching and finish jobs in hand');
      expect([...steps].sort()).toEqual(['close redis', 'close storage', 'close the inference session', 'flush logs', 'stop fetching and finish jobs in hand', 'stop the queue monitor']);
      expect(worker.logs().filter((l) => l.msg === 'shutdown step failed')).toEqual([]);
      expect(worker.stderr).not.toMatch(/still running/);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('--providers cuda --allow-cpu-fallback: starts on the CPU, takes jobs, and stops with exit 0 on SIGTERM', async () => {
    const { name, queue } = await queueWithOneJob();
    const worker = procs.spawnWorker(suite.redis.url, name, ['--providers', 'cuda', '--allow-cpu-fallback']);
    const started = await worker.waitForStart();
    expect(started.provider).toBe(ortHasCuda() ? 'cuda' : 'cpu (fallback)');
    await pollUntil('the job completed', async () => ((await queue.getJobCounts('completed')).completed === 1 ? true : undefined), 60_000, 100);
    worker.signal('SIGTERM');
    expect(await worker.waitForExit(30_000)).toEqual({ code: 0, signal: null });
    expect(worker.log('stopped')).toMatchObject({ ok: true });
  });
});
