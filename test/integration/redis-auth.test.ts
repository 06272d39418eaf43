import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { freePort } from '../../src/lifecycle/free-port';
import { connectRedis, createRedis } from '../../src/queue/connection';
import { allFixtures } from '../support/fixtures';
import { httpGet } from '../../tools/harness/http-probe';
import { runFacefleet } from '../../tools/harness/facefleet-process';
import { pollUntil } from '../../tools/harness/poll';
import { RedisServer, uniqueQueue } from '../../tools/harness/redis';
import { ProcessGroup } from '../support/process-group';

const photos = allFixtures().filter((f) => !f.expectError).slice(0, 3);

/** `facefleet <args>` with only the given environment added (facefleet's own variables scrubbed). */
function ff(args: string[], env: Record<string, string>, timeoutMs = 60_000) {
  return runFacefleet(args, { env, timeoutMs });
}

/**
 * Redis AUTH and TLS end to end, with real processes: a password in `REDIS_URL` works for producer
 * and worker; a wrong or missing password fails clearly (worker not ready, producer exits non-zero)
 * and no output ever repeats a password; `rediss://` works with a private CA trusted through
 * `NODE_EXTRA_CA_CERTS` and is refused without it.
 */
describe('Redis AUTH and TLS', () => {
  const procs = new ProcessGroup();
  let tmp: string;
  let redis: RedisServer;
  const password = 'auth-test-3f9c1d7e5b2a';
  const wrong = 'wrong-guess-8e7d6c5b4a39';

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-auth-'));
    redis = new RedisServer({ dir: path.join(tmp, 'redis'), password, aof: false });
    await redis.start();
  });
  afterAll(async () => {
    await procs.killAll();
    await redis?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const url = (pw: string | undefined) => `redis://${pw === undefined ? '' : `:${pw}@`}127.0.0.1:${redis.port}`;

  it('a password in REDIS_URL works for the producer and the worker, and appears in no output', async () => {
    const queue = uniqueQueue('auth');
    const worker = procs.spawnWorker(url(password), queue, ['--batch', '2']);
    await worker.waitForStart();
    const out = ff(['enqueue', '--queue', queue, '--results', `file://${tmp}/out`, '--run-id', 'auth-1', '--wait', '--json', ...photos.map((p) => `file://${p.path}`)], { REDIS_URL: url(password) });
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ done: photos.length, failed: 0 });
    worker.signal('SIGTERM');
    await worker.waitForExit(30_000);
    for (const text of [out.stdout, out.stderr, worker.stdout, worker.stderr]) expect(text).not.toContain(password);
    expect(worker.log('worker started')?.redis).toBe(`redis://:***@127.0.0.1:${redis.port}`);
  });

  for (const [name, pw] of [['a wrong password', wrong], ['no password', undefined]] as const) {
    it(`${name}: the worker stays up but not ready, the producer exits non-zero, no password is printed`, async () => {
      const port = await freePort();
      const worker = procs.spawnWorker(url(pw), uniqueQueue('noauth'), ['--metrics-port', String(port), '--metrics-host', '127.0.0.1']);
      await worker.waitForStart();
      const ready = await pollUntil('/readyz answering', async () => httpGet(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 3000 }), 20_000, 200);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).reason).toMatch(/redis/);
      const out = ff(['enqueue', '--queue', 'x', '--results', `file://${tmp}/out`, `file://${photos[0].path}`], { REDIS_URL: url(pw) }, 30_000);
      expect(out.status).not.toBe(0);
      expect(out.stderr).toMatch(/WRONGPASS|NOAUTH/);
      // Let a few reconnect attempts fail and be logged.
      await new Promise((r) => setTimeout(r, 2000));
      await worker.kill();
      for (const text of [out.stdout, out.stderr, worker.stdout, worker.stderr]) {
        expect(text).not.toContain(password);
        expect(text).not.toContain(wrong);
      }
      expect(worker.logs().some((l) => l.msg === 'worker error')).toBe(true);
    });
  }

  for (const [name, pw] of [['a wrong password', wrong], ['no password', undefined]] as const) {
    it(`${name}: every one-shot command ends within seconds with E_CONFIG, printing no password`, () => {
      const commands = [
        ['failed', 'list'],
        ['failed', 'export'],
        ['failed', 'retry'],
        ['runs'],
        ['runs', 'some-run'],
        ['enqueue', '--queue', 'x', '--results', `file://${tmp}/out`, `file://${photos[0].path}`],
        ['demo', '--images', path.dirname(photos[0].path), '--out', path.join(tmp, 'demo-out')],
      ];
      for (const args of commands) {
        const started = Date.now();
        const out = ff(args, { REDIS_URL: url(pw) }, 20_000);
        const text = out.stdout + out.stderr;
        expect({ args, signal: out.signal, status: out.status }).toEqual({ args, signal: null, status: 64 });
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(out.stderr).toMatch(/E_CONFIG: Redis at redis:\/\/(:\*\*\*@)?127\.0\.0\.1:\d+ refused the credentials \((WRONGPASS|NOAUTH)\)/);
        expect(text).not.toContain(password);
        expect(text).not.toContain(wrong);
        expect(text).not.toMatch(/'AUTH'|args:/);
      }
    });
  }

  it("scrubs the AUTH arguments from ioredis' errors before any other listener sees them", async () => {
    const client = createRedis(url(wrong));
    try {
      const err = await new Promise<Error & { command?: { name: string; args: string[] } }>((resolve) => client.once('error', resolve));
      expect(err.command?.name).toBe('hello');
      expect(err.command?.args.join(' ')).not.toContain(wrong);
      expect(inspect(err)).not.toContain(wrong);
      await expect(connectRedis(url(wrong))).rejects.toMatchObject({ code: 'E_CONFIG' });
      await connectRedis(url(password)).then((ok) => ok.quit());
    } finally {
      client.disconnect();
    }
  });

  describe('rediss://', () => {
    let tls: RedisServer | undefined;
    let tlsPort = 0;
    let caFile = '';
    let supported = true;

    beforeAll(async () => {
      const dir = path.join(tmp, 'tls');
      fs.mkdirSync(dir);
      const run = (args: string[]) => spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=facefleet-test-ca']);
      run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
      fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
      run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
      caFile = path.join(dir, 'ca.pem');
      tlsPort = await freePort();
      const pem = (name: string) => path.join(dir, name);
      tls = new RedisServer({
        dir: path.join(dir, 'data'),
        password,
        aof: false,
        args: ['--tls-port', String(tlsPort), '--tls-cert-file', pem('server.pem'), '--tls-key-file', pem('server.key'), '--tls-ca-cert-file', pem('ca.pem'), '--tls-auth-clients', 'no'],
      });
      // Debian's redis-server is built with TLS (it links libssl); a build without it does not start.
      supported = await tls.start().then(() => true, () => false);
    });
    afterAll(async () => {
      await tls?.stop();
    });

    it('works end to end with a private CA trusted through NODE_EXTRA_CA_CERTS', async () => {
      expect(supported).toBe(true);
      const rediss = `rediss://:${password}@127.0.0.1:${tlsPort}`;
      const queue = uniqueQueue('tls');
      const worker = procs.spawnWorker(rediss, queue, ['--batch', '2'], { env: { NODE_EXTRA_CA_CERTS: caFile } });
      await worker.waitForStart();
      const out = ff(['enqueue', '--queue', queue, '--results', `file://${tmp}/tls-out`, '--run-id', 'tls-1', '--wait', '--json', ...photos.map((p) => `file://${p.path}`)], { REDIS_URL: rediss, NODE_EXTRA_CA_CERTS: caFile });
      expect(out.status).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ done: photos.length, failed: 0 });
      await worker.kill();
      for (const text of [out.stdout, out.stderr, worker.stderr]) expect(text).not.toContain(password);
    });

    it('refuses a server whose certificate no trusted CA signed', () => {
      expect(supported).toBe(true);
      // The producer keeps retrying (as for any unreachable Redis), saying why each time; it never sends a command.
      const out = ff(['enqueue', '--queue', 'x', '--results', `file://${tmp}/tls-out`, `file://${photos[0].path}`], { REDIS_URL: `rediss://:${password}@127.0.0.1:${tlsPort}` }, 8_000);
      expect(out.status).not.toBe(0);
      expect(out.stderr).toMatch(/self.signed|certificate/i);
      expect(out.stderr).not.toContain(password);
    });
  });
});
