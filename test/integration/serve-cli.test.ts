import fs from 'node:fs';
import net from 'node:net';
import { FacefleetProcess } from '../../tools/harness/facefleet-process';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { allFixtures } from '../support/fixtures';

/**
 * `facefleet serve` as a process: it prints where it listens, answers a detection, and on SIGTERM
 * drains and exits 0; a bad option exits 64 before loading anything, naming the option; a port already
 * taken exits 64 too, after closing the model and Redis it had opened.
 */
describe('facefleet serve (process)', () => {
  let redis: PrivateRedis;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** The JSON log lines of a stderr text. */
  function logLines(stderr: string): Array<Record<string, unknown>> {
    return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  function run(args: string[], env: Record<string, string> = {}): { child: FacefleetProcess; stderr: () => string; exit: Promise<number | null> } {
    const child = FacefleetProcess.spawn(['serve', ...args], { scrub: /^FACEFLEET_(?!MODEL_CACHE$|FIXTURES$)/, env });
    return { child, stderr: () => child.stderr, exit: child.exited.then((s) => s.code) };
  }

  it('listens where it says, detects, and drains on SIGTERM with exit 0', async () => {
    const p = run(['--port', '0', '--redis-url', redis.url, '--queue', uniqueQueue('cli')], { FACEFLEET_API_TOKEN: 'cli-token-0123456789abcdef' });
    try {
      const [, url] = await p.child.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const photo = fs.readFileSync(allFixtures().find((f) => f.file === 'astronaut.png')!.path);
      const res = await fetch(`${url}/v1/detect`, { method: 'POST', body: photo, headers: { 'content-type': 'image/png', authorization: 'Bearer cli-token-0123456789abcdef' } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { faces: unknown[] }).faces).toHaveLength(1);
      p.child.signal('SIGTERM');
      expect(await p.exit).toBe(0);
      expect(p.stderr()).not.toContain('cli-token-0123456789abcdef');
      expect(p.stderr()).not.toMatch(/WARNING/);
    } finally {
      p.child.signal('SIGKILL');
    }
  });

  it('exits 64 on a bad option, naming it, before loading the model', async () => {
    const p = run(['--port', '99999']);
    expect(await p.exit).toBe(64);
    expect(p.stderr()).toMatch(/facefleet serve: E_CONFIG: [\s\S]*port \(--port\).*65535/);
    expect(logLines(p.stderr()).find((l) => l.msg === 'serve cannot start')).toMatchObject({ level: 60, code: 'E_CONFIG' });
    expect(p.stderr()).not.toMatch(/model cache/);
  });

  it('a start that fails after the model and Redis are open (port taken): closes them and exits 64 on its own', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    const p = run(['--port', String(port), '--redis-url', redis.url, '--queue', uniqueQueue('cli')], { FACEFLEET_LOG_LEVEL: 'debug' });
    try {
      expect(await p.exit).toBe(64);
      expect(p.stderr()).toMatch(new RegExp(`facefleet serve: E_CONFIG: port \\(--port\\): cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      const lines = logLines(p.stderr());
      expect(lines.find((l) => l.msg === 'serve cannot start')).toMatchObject({ level: 60, code: 'E_CONFIG' });
      // Redis was up (the run routes were about to be served), and everything opened was closed;
      // failStart's fallback exit would have said "still running". The order of the steps is the
      // lifecycle's (test/unit/fail-start.test.ts): their log lines can reach stderr out of order.
      expect(lines.find((l) => l.msg === 'redis is not reachable yet: detection works, run routes answer 503 until it is')).toBeUndefined();
      const steps = lines.filter((l) => l.msg === 'shutdown step done').map((l) => String(l.step));
      expect(steps[0]).toBe('stop accepting requests and finish those in flight');
      expect([...steps].sort()).toEqual(
        ['close redis', 'close storage', 'close the inference session', 'close the queue', 'flush logs', 'stop accepting requests and finish those in flight', 'stop background enqueues', 'stop the liveness ticker'],
      );
      expect(p.stderr()).not.toMatch(/still running|shutdown step failed/);
    } finally {
      p.child.signal('SIGKILL');
      await new Promise((r) => taken.close(r));
    }
  });
});
