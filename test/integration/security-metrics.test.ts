import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { freePort } from '../../src/lifecycle/free-port';
import { createLogger } from '../../src/telemetry/logger';
import { RunningWorker, startWorker } from '../../src/worker/start-worker';
import { httpGet, type HttpAnswer } from '../../tools/harness/http-probe';
import { RedisServer } from '../../tools/harness/redis';

async function call(port: number, method: string, pathname: string): Promise<HttpAnswer> {
  const answer = await httpGet(`http://127.0.0.1:${port}${pathname}`, { method, timeoutMs: 5000 });
  if (!answer) throw new Error(`no answer to ${method} ${pathname}`);
  return answer;
}

/**
 * The worker's metrics server answers `GET /metrics`, `/healthz` and `/readyz` (and their HEADs) and
 * nothing else, binds only the address it is given, and its answers carry no credential.
 */
describe('metrics server surface', () => {
  let tmp: string;
  let redis: RedisServer;
  let worker: RunningWorker;
  const password = 'metrics-test-9b8a7c6d5e4f';
  const s3Secret = 'metrics-test-s3-secret-0a1b2c3d4e5f';
  const envBefore = { ...process.env };

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-metrics-sec-'));
    redis = new RedisServer({ dir: tmp, password, aof: false });
    await redis.start();
    Object.assign(process.env, { FACEFLEET_S3_ENDPOINT: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'AKIDMETRICS', AWS_SECRET_ACCESS_KEY: s3Secret, AWS_REGION: 'us-east-1' });
    const config = loadWorkerConfig({ redisUrl: redis.url, queue: 'metrics-sec', metricsPort: await freePort(), metricsHost: '127.0.0.1' }, {});
    worker = await startWorker(config, createLogger({ level: 'silent' }), { handleSignals: false });
  });
  afterAll(async () => {
    process.env = envBefore;
    await worker?.lifecycle.close();
    await redis?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('serves the three probes', async () => {
    const port = worker.metricsPort!;
    expect((await call(port, 'GET', '/metrics')).status).toBe(200);
    expect((await call(port, 'GET', '/metrics?name[]=facefleet_queue_jobs')).status).toBe(200);
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
    expect([200, 503]).toContain((await call(port, 'GET', '/readyz')).status);
    expect(await call(port, 'HEAD', '/metrics')).toEqual({ status: 200, body: '' });
  });

  it('answers 404 to every other path and method', async () => {
    const port = worker.metricsPort!;
    const paths = ['/', '/admin', '/debug/pprof', '/metrics/', '/metrics/../healthz', '/%2e%2e/etc/passwd', '/healthz/x', '/readyz.json', '/openapi.json', '/v1/detect', '/documentation', '/.env', '/config'];
    for (const p of paths) expect({ p, status: (await call(port, 'GET', p)).status }).toEqual({ p, status: 404 });
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const p of ['/metrics', '/healthz', '/readyz']) expect({ method, p, status: (await call(port, method, p)).status }).toEqual({ method, p, status: 404 });
    }
  });

  it('carries no credential in any answer', async () => {
    const port = worker.metricsPort!;
    const bodies = await Promise.all(['/metrics', '/healthz', '/readyz', '/nope'].map((p) => call(port, 'GET', p)));
    for (const { body } of bodies) {
      expect(body).not.toContain(password);
      expect(body).not.toContain(s3Secret);
    }
  });

  it('binds only the address it was given', async () => {
    const port = worker.metricsPort!;
    const others = Object.values(os.networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4' && !i.internal).map((i) => i!.address);
    for (const address of others) {
      const reachable = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, address);
        s.setTimeout(2000);
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
        s.once('timeout', () => (s.destroy(), resolve(false)));
      });
      expect({ address, reachable }).toEqual({ address, reachable: false });
    }
  });
});
