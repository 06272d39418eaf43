import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { iou } from '../../src/detectors/nms';
import { findRepoRoot } from '../../src/models/registry';
import { createRedis } from '../../src/queue/connection';
import { allFixtures } from '../support/fixtures';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

const root = findRepoRoot();
const cli = path.join(root, 'bin', 'facefleet.js');

function facefleet(args: string[], env: Record<string, string> = {}, timeout = 180_000) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout });
}

describe('facefleet detect', () => {
  const fixtures = allFixtures();
  let tmp: string;
  beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cli-'))));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('prints results in input order with classified errors, annotates, and exits 2 when any failed', () => {
    const files = fixtures.map((f) => f.path);
    const run = facefleet(['detect', '--json', '--annotate', tmp, ...files]);
    expect(run.status).toBe(2);
    const entries = JSON.parse(run.stdout) as Array<{ file: string; faces?: Array<{ box: number[]; score: number }>; error?: { code: string }; annotated?: string }>;
    expect(entries.map((e) => e.file)).toEqual(files);
    fixtures.forEach((f, i) => {
      const e = entries[i];
      if (f.expectError) {
        expect(e.error?.code).toMatch(/^E_/);
        if (f.expectCode) expect(e.error?.code).toBe(f.expectCode);
        return;
      }
      expect(e.error).toBeUndefined();
      expect(fs.existsSync(e.annotated!)).toBe(true);
      for (const face of f.faces.filter((x) => x.difficulty === 'easy')) expect(e.faces!.some((d) => iou(d.box, face.box) >= 0.5)).toBe(true);
    });
  });

  it('exits 0 when every file succeeds and prints a table without --json', () => {
    const ok = fixtures.filter((f) => !f.expectError).slice(0, 2).map((f) => f.path);
    const run = facefleet(['detect', ...ok]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/face\(s\)/);
  });

  it('rejects a bad option value before loading anything, naming it', () => {
    const run = facefleet(['detect', '--batch', '0', fixtures[0].path]);
    expect(run.status).toBe(64);
    expect(run.stderr).toMatch(/batch .*given "0"/);
  });
});

describe('facefleet worker flags from the environment', () => {
  it('reads FACEFLEET_ALLOW_CPU_FALLBACK=false as false: a CUDA worker then fails at start', () => {
    const run = facefleet(['worker', '--providers', 'cuda', '--metrics-port', '0'], { FACEFLEET_ALLOW_CPU_FALLBACK: 'false', REDIS_URL: 'redis://127.0.0.1:1' }, 30_000);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/E_MODEL.*cuda/);
  });
});

describe('facefleet: a bad value is named by where it came from', () => {
  // Without any FACEFLEET_ variable of the caller's, so the one given is the only one.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FACEFLEET_') || k === 'FACEFLEET_MODEL_CACHE'));
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', env: { ...clean, REDIS_URL: 'redis://127.0.0.1:1', ...env }, timeout: 30_000 });

  it('FACEFLEET_PROVIDERS=gpu facefleet worker: names FACEFLEET_PROVIDERS, not the flag, and exits 64 before connecting', () => {
    const r = run(['worker', '--metrics-port', '0'], { FACEFLEET_PROVIDERS: 'gpu' });
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/E_CONFIG: invalid configuration:\s+providers \(env FACEFLEET_PROVIDERS\): expected a comma-separated list .*given "gpu"/);
    expect(r.stderr).not.toContain('(--providers)');
  });

  it('facefleet worker --providers gpu: names --providers, even with a good FACEFLEET_PROVIDERS set', () => {
    const r = run(['worker', '--metrics-port', '0', '--providers', 'gpu'], { FACEFLEET_PROVIDERS: 'cpu' });
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/providers \(--providers\): expected a comma-separated list .*given "gpu"/);
    expect(r.stderr).not.toContain('env FACEFLEET_PROVIDERS');
  });

  it('names every bad value with its own source, for the variables once read outside the config too', () => {
    const r = run(['detect', '--canvas', '1', 'x.jpg'], { FACEFLEET_BATCH: '0', FACEFLEET_DECODE_THREADS: 'many', FACEFLEET_ORT_ALLOW_SPINNING: 'on' });
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/canvas \(--canvas\): .*given "1"/);
    expect(r.stderr).toMatch(/batch \(env FACEFLEET_BATCH\): .*given "0"/);
    expect(r.stderr).toMatch(/decodeThreads \(env FACEFLEET_DECODE_THREADS\): .*given "many"/);
    expect(r.stderr).toMatch(/ortAllowSpinning \(env FACEFLEET_ORT_ALLOW_SPINNING\): expected a boolean.*given "on"/);
    const worker = run(['worker', '--metrics-port', '0'], { FACEFLEET_LOG_LEVEL: 'loud', FACEFLEET_FORCE_INCREMENTAL: 'sometimes' });
    expect(worker.status).toBe(64);
    expect(worker.stderr).toMatch(/logLevel \(env FACEFLEET_LOG_LEVEL\): .*given "loud"/);
    expect(worker.stderr).toMatch(/forceIncremental \(env FACEFLEET_FORCE_INCREMENTAL\): .*given "sometimes"/);
  });

  it('enqueue without --results or FACEFLEET_RESULTS says how to give it', () => {
    const r = run(['enqueue', 'a.jpg']);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/results \(--results or env FACEFLEET_RESULTS\): required; given nothing/);
  });

  it('--help shows each option with its default and variable', () => {
    const help = run(['worker', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--batch <n> images per inference batch \(default: 1 on a CPU, 32 on a GPU, env: FACEFLEET_BATCH\)/);
    expect(help).toMatch(/--force-incremental .*\(default: off, env: FACEFLEET_FORCE_INCREMENTAL\)/);
    expect(help).toMatch(/--allowed-locations <list> .*env: FACEFLEET_ALLOWED_LOCATIONS\)/);
    expect(run(['serve', '--help']).stdout.replace(/\s+/g, ' ')).toMatch(/--allowed-locations <list> .*env: FACEFLEET_SERVE_ALLOWED_LOCATIONS\)/);
  });
});

describe('facefleet demo', () => {
  it('runs the embedded default and prints a machine-readable summary with real detections', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-demo-'));
    try {
      const env: Record<string, string> = {};
      if (process.env.REDIS_URL) env.REDIS_URL = '';
      const run = facefleet(['demo', '--json', '--out', out], env);
      expect(run.status).toBe(0);
      const summary = JSON.parse(run.stdout);
      expect(Object.keys(summary)).toEqual(expect.arrayContaining(['images', 'succeeded', 'failed', 'faces', 'imagesPerSecond', 'failures', 'results']));
      expect(summary.images).toBe(fs.readdirSync(path.join(root, 'samples')).filter((f) => !f.endsWith('.md')).length);
      expect(summary.faces).toBeGreaterThanOrEqual(6);
      expect(summary.failures).toEqual([{ key: 'corrupt-truncated.jpg', code: 'E_DECODE' }]);
      const grid = summary.results.find((r: { key: string }) => r.key === 'astronaut-grid4.jpg');
      expect(grid.faces).toHaveLength(4);
      // The default model (RetinaFace) finds every face the fixture manifests list for the samples,
      // the small and the profile ones included, and nothing on the face-free photos.
      const byFile = new Map(allFixtures().map((f) => [f.file, f]));
      for (const r of summary.results as Array<{ key: string; faces: Array<{ box: number[] }> }>) {
        const f = byFile.get(r.key)!;
        expect({ key: r.key, faces: r.faces.length }).toEqual({ key: r.key, faces: f.faces.length });
        for (const gt of f.faces) expect(Math.max(...r.faces.map((d) => iou(d.box, gt.box)))).toBeGreaterThanOrEqual(0.5);
      }
      const result = JSON.parse(fs.readFileSync(path.join(out, 'results', 'astronaut.png.json'), 'utf8'));
      expect(result.model.id).toBe('retinaface');
      expect(fs.readdirSync(path.join(out, 'annotated')).length).toBe(summary.succeeded);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('facefleet demo without redis-server', () => {
  it('with FACEFLEET_NO_INSTALL=1 installs nothing and prints the exact command for this system', () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-nobin-'));
    try {
      // A PATH with a shell and an apt-get that must not run, and no redis-server.
      fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
      fs.writeFileSync(path.join(bin, 'apt-get'), '#!/bin/sh\necho ran >&2\nexit 1\n');
      fs.chmodSync(path.join(bin, 'apt-get'), 0o755);
      const run = facefleet(['demo', '--json', '--out', path.join(bin, 'out')], { PATH: bin, REDIS_URL: '', FACEFLEET_NO_INSTALL: '1' }, 60_000);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/facefleet: E_DEPENDENCY: redis-server is not on PATH .*FACEFLEET_NO_INSTALL=1.*Run: (sudo )?apt-get update && (sudo )?apt-get install -y redis-server/);
      expect(run.stderr).not.toContain('ran');
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});

describe('facefleet detect with a long command line', () => {
  it('runs with 3,000 paths (~150 kB of argv), where the inference thread once overflowed its stack (SIGSEGV)', () => {
    const astronaut = allFixtures().find((f) => f.file === 'astronaut.png')!;
    const missing = Array.from({ length: 3000 }, (_, i) => `/nonexistent/long-name-to-make-argv-bigger-${i}.jpg`);
    const run = facefleet(['detect', '--json', '--model', 'blazeface', astronaut.path, ...missing], {}, 300_000);
    expect({ status: run.status, signal: run.signal }).toEqual({ status: 2, signal: null });
    const entries = JSON.parse(run.stdout) as Array<{ faces?: unknown[]; error?: { code: string } }>;
    expect(entries).toHaveLength(3001);
    expect(entries[0].faces).toHaveLength(1);
    expect(new Set(entries.slice(1).map((e) => e.error?.code))).toEqual(new Set(['E_NOT_FOUND']));
  });
});


describe('facefleet enqueue from find .', () => {
  let redis: PrivateRedis;
  let tmp: string;
  beforeAll(async () => {
    redis = await startRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cli-find-'));
  });
  afterAll(async () => {
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("runs the README's find . -name '*.jpg' | facefleet enqueue --manifest - with ./ keys, and still refuses ..", async () => {
    const photos = path.join(tmp, 'photos');
    fs.mkdirSync(path.join(photos, 'sub'), { recursive: true });
    for (const f of ['a.jpg', 'sub/b.jpg']) fs.writeFileSync(path.join(photos, f), 'x');
    const queue = uniqueQueue('find');
    const env = { ...process.env, REDIS_URL: redis.url, FACEFLEET_QUEUE: queue };
    const run = spawnSync('bash', ['-c', `find . -name '*.jpg' | sort | node ${JSON.stringify(cli)} enqueue --manifest - --results file://${tmp}/faces --run-id find-run --json`], { cwd: photos, encoding: 'utf8', env, timeout: 60_000 });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ runId: 'find-run', enqueued: 2 });
    const conn = createRedis(redis.url);
    const q = new Queue(queue, { connection: conn });
    try {
      const jobs = await q.getJobs(['waiting']);
      expect(jobs.map((j) => [j.data.source, j.data.key]).sort()).toEqual([
        [`file://${photos}/a.jpg`, 'a.jpg'],
        [`file://${photos}/sub/b.jpg`, 'sub/b.jpg'],
      ]);
    } finally {
      await q.close();
      conn.disconnect();
    }
    const args = spawnSync(process.execPath, [cli, 'enqueue', '--results', `file://${tmp}/faces`, '--run-id', 'args-run', '--json', './a.jpg', '././sub/b.jpg'], { cwd: photos, encoding: 'utf8', env, timeout: 60_000 });
    expect(args.status).toBe(0);
    expect(JSON.parse(args.stdout)).toMatchObject({ enqueued: 2 });
    for (const bad of ['../a.jpg', './../a.jpg', 'sub/./b.jpg']) {
      const refused = spawnSync(process.execPath, [cli, 'enqueue', '--results', `file://${tmp}/faces`, '--run-id', 'bad-run', bad], { cwd: photos, encoding: 'utf8', env, timeout: 60_000 });
      expect({ bad, failed: refused.status !== 0, code: /E_BAD_KEY/.test(refused.stderr) }).toEqual({ bad, failed: true, code: true });
    }
  });
});

describe('facefleet detect on a FIFO', () => {
  it('answers E_NOT_FOUND for the FIFO at once (it is never opened for reading) and detects the photo beside it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-fifo-'));
    try {
      const fifo = path.join(dir, 'pipe.jpg');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const astronaut = allFixtures().find((f) => f.file === 'astronaut.png')!;
      // No writer ever opens the FIFO: a blocking open would hang this run until the timeout.
      const run = facefleet(['detect', '--json', '--model', 'blazeface', fifo, astronaut.path], {}, 60_000);
      expect({ status: run.status, signal: run.signal }).toEqual({ status: 2, signal: null });
      const [pipe, photo] = JSON.parse(run.stdout) as Array<{ faces?: unknown[]; error?: { code: string; message: string } }>;
      expect(pipe.error).toEqual({ code: 'E_NOT_FOUND', message: expect.stringContaining('not a regular file (FIFO)') });
      expect(photo.faces).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

