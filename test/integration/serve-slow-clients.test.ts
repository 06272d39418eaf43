import fs from 'node:fs';
import pino from 'pino';
import { loadServeConfig } from '../../src/config/serve-config';
import { RunningServer, startServe } from '../../src/serve/start-serve';
import { detectHead, slowClient, type SlowClient } from '../../tools/harness/slow-client';
import { allFixtures } from '../support/fixtures';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

/**
 * `facefleet serve` against slow clients (real Redis, the real model): uploads sending 1 byte/s are cut
 * by the request timeout and give their admission slots back, slow headers are cut by the headers
 * timeout, idle keep-alive connections are closed.
 */
describe('serve against slow clients', () => {
  let redis: PrivateRedis;
  let server: RunningServer;
  const clients: SlowClient[] = [];
  const photo = fs.readFileSync(allFixtures().find((f) => f.file === 'astronaut.png')!.path);
  const REQUEST_TIMEOUT_MS = 3_000;

  beforeAll(async () => {
    redis = await startRedis();
    const config = loadServeConfig(
      { redisUrl: redis.url, queue: uniqueQueue('slow'), port: 0, model: 'blazeface', maxInFlight: 2, maxQueue: 2, queueTimeoutMs: 1_000, requestTimeoutMs: REQUEST_TIMEOUT_MS, headersTimeoutMs: 1_500, keepAliveTimeoutMs: 1_000 },
      {},
    );
    server = await startServe(config, pino({ level: 'silent' }), { handleSignals: false });
  });
  afterAll(async () => {
    for (const c of clients) c.socket.destroy();
    await server?.lifecycle.close();
    await redis?.stop();
  });

  const detect = () => fetch(`${server.url}/v1/detect`, { method: 'POST', body: photo, headers: { 'content-type': 'image/png' }, signal: AbortSignal.timeout(10_000) });

  it('cuts 20 uploads sending 1 byte/s at the request timeout, and a real request then succeeds', async () => {
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) clients.push(slowClient(server.port, detectHead(100_000), 'x'.repeat(100_000), 1_000));
    // Wait until the slots are held and the rest were refused.
    const deadline = Date.now() + 2_500;
    while (server.admission.active < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(server.admission.active).toBe(2);
    // While the slow senders hold every slot, a real request is refused.
    const during = await detect();
    expect(during.status).toBe(429);
    // The two holding a slot are cut with 408 once the request timeout passes, still mid-body.
    const holders = await Promise.all(clients.map((c) => Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), REQUEST_TIMEOUT_MS + 4_000))])));
    expect(holders.every((ms) => ms >= 0)).toBe(true);
    expect(Math.max(...holders)).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
    expect(clients.filter((c) => c.answer().startsWith('HTTP/1.1 408')).length).toBeGreaterThanOrEqual(2);
    expect(server.admission.active).toBe(0);
    const after = await detect();
    expect(after.status).toBe(200);
    expect(((await after.json()) as { faces: unknown[] }).faces.length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(REQUEST_TIMEOUT_MS + 8_000);
  });

  it('cuts a client sending its headers slowly at the headers timeout', async () => {
    const c = slowClient(server.port, 'GET /healthz HTTP/1.1\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n', 200);
    clients.push(c);
    const closedAfter = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 6_000))]);
    expect(closedAfter).toBeGreaterThanOrEqual(1_000);
    expect(closedAfter).toBeLessThan(4_000);
    expect(c.answer()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const c = slowClient(server.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '', 1_000);
    clients.push(c);
    const closedAfter = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 6_000))]);
    expect(c.answer()).toMatch(/^HTTP\/1\.1 200/);
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(4_000);
  });
});
