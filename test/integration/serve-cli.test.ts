import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import { allFixtures } from '../support/fixtures';
import { PrivateRedis, startRedis, uniqueQueue } from '../support/redis';

/**
 * `facefleet serve` as a process: it prints where it listens, answers a detection, and on SIGTERM
 * drains and exits 0; a bad option exits 64 before loading anything, naming the option.
 */
describe('facefleet serve (process)', () => {
  let redis: PrivateRedis;
  const bin = path.join(findRepoRoot(), 'bin', 'facefleet.js');
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FACEFLEET_') || k === 'FACEFLEET_MODEL_CACHE' || k === 'FACEFLEET_FIXTURES'));

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  function run(args: string[], env: Record<string, string> = {}): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
    const child = spawn(process.execPath, [bin, 'serve', ...args], { env: { ...cleanEnv, FACEFLEET_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += String(d)));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return { child, stderr: () => err, exit };
  }

  it('listens where it says, detects, and drains on SIGTERM with exit 0', async () => {
    const p = run(['--port', '0', '--redis-url', redis.url, '--queue', uniqueQueue('cli')], { FACEFLEET_API_TOKEN: 'cli-token-0123456789abcdef' });
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!url) {
        url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())?.[1];
        if (Date.now() > deadline) throw new Error(`no "listening on" line:\n${p.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const photo = fs.readFileSync(allFixtures().find((f) => f.file === 'astronaut.png')!.path);
      const res = await fetch(`${url}/v1/detect`, { method: 'POST', body: photo, headers: { 'content-type': 'image/png', authorization: 'Bearer cli-token-0123456789abcdef' } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { faces: unknown[] }).faces).toHaveLength(1);
      p.child.kill('SIGTERM');
      expect(await p.exit).toBe(0);
      expect(p.stderr()).not.toContain('cli-token-0123456789abcdef');
      expect(p.stderr()).not.toMatch(/WARNING/);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('exits 64 on a bad option, naming it, before loading the model', async () => {
    const p = run(['--port', '99999']);
    expect(await p.exit).toBe(64);
    expect(p.stderr()).toMatch(/port \(--port\).*65535/);
    expect(p.stderr()).not.toMatch(/model cache/);
  });
});
