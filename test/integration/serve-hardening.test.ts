import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadServeConfig } from '../../src/config/serve-config';
import { RunningServer, startServe } from '../../src/serve/start-serve';
import { allFixtures } from '../support/fixtures';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

interface ErrorBody {
  code: string;
  message: string;
}

/** A POST with a hand-written body and content type (fetch would write its own multipart boundary). */
function rawPost(url: string, contentType: string, body: string): Promise<{ status: number; body: ErrorBody }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as ErrorBody }));
    });
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.end(body);
  });
}

/** A GET with a chosen Host header (fetch sets its own). */
function getWithHost(url: string, host: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.end();
  });
}

/**
 * `facefleet serve` against hostile requests, with real Redis and the real model: allowed locations
 * that match only whole path segments and exact buckets, a FIFO where a result should be, multipart
 * bodies with a bogus boundary, and result names with control characters.
 */
describe('serve hardening', () => {
  let redis: PrivateRedis;
  let tmp: string;
  let server: RunningServer;
  const fifos: string[] = [];
  const photo = allFixtures().find((f) => f.file === 'astronaut.png')!;

  beforeAll(async () => {
    redis = await startRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-serve-hard-'));
    fs.mkdirSync(path.join(tmp, 'out', 'r'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'in'));
    fs.copyFileSync(photo.path, path.join(tmp, 'in', 'a.png'));
    const config = loadServeConfig({ redisUrl: redis.url, queue: uniqueQueue('hard'), port: 0, model: 'blazeface', allowedLocations: `s3://photos,s3://shared/team-a,file://${tmp}/out,file://${tmp}/in/` }, {});
    server = await startServe(config, pino({ level: 'silent' }), { handleSignals: false });
  });
  afterAll(async () => {
    for (const fifo of fifos) {
      try {
        fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        // No reader left blocked on it.
      }
    }
    await server?.lifecycle.close();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const postJobs = (body: unknown) => fetch(`${server.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });

  it('allows only whole path segments and exact bucket names', async () => {
    const refused: unknown[] = [
      { keys: ['s3://photos-private/a.jpg'], results: `file://${tmp}/out/r` },
      { keys: ['s3://photos/a.jpg'], results: 's3://photos-private/r' },
      { keys: ['s3://shared/team-ab/a.jpg'], results: `file://${tmp}/out/r` },
      { keys: [`file://${tmp}/in/a.png`], results: `file://${tmp}/out-evil` },
      { keys: [`file://${tmp}/in-other/a.png`], results: `file://${tmp}/out/r` },
      { prefix: 's3://photosx/', results: `file://${tmp}/out/r` },
      { prefix: `file://${tmp}/outer/`, results: `file://${tmp}/out/r` },
    ];
    for (const body of refused) {
      const res = await postJobs({ runId: 'refused', ...(body as object) });
      expect({ body, status: res.status, code: ((await res.json()) as ErrorBody).code }).toEqual({ body, status: 400, code: 'E_BAD_KEY' });
    }
    expect((await fetch(`${server.url}/v1/runs/refused`)).status).toBe(404);
    const allowed = await postJobs({ runId: 'allowed', keys: [`file://${tmp}/in/a.png`, 's3://photos/b.jpg', 's3://shared/team-a/c.jpg'], results: `file://${tmp}/out/r` });
    expect(allowed.status).toBe(201);
  });

  it('answers a FIFO named x.json in a results folder with 404 at once, and keeps serving', async () => {
    const res = await postJobs({ runId: 'fifo-run', keys: [`file://${tmp}/in/a.png`], results: `file://${tmp}/out/r` });
    expect(res.status).toBe(201);
    // More FIFOs than libuv has threads (4): blocking opens would leave none for anything else.
    for (let i = 0; i < 6; i++) fifos.push(path.join(tmp, 'out', 'r', i === 0 ? 'x.json' : `x${i}.json`));
    expect(spawnSync('mkfifo', fifos).status).toBe(0);
    const answers = await Promise.all(
      fifos.map(async (f) => {
        const r = await fetch(`${server.url}/v1/runs/fifo-run/results/${path.basename(f, '.json')}`, { signal: AbortSignal.timeout(5_000) });
        return [r.status, ((await r.json()) as ErrorBody).code];
      }),
    );
    expect(answers).toEqual(fifos.map(() => [404, 'E_NOT_FOUND']));
    const page = await fetch(`${server.url}/v1/runs/fifo-run/results`, { signal: AbortSignal.timeout(5_000) });
    expect(page.status).toBe(200);
    expect(((await page.json()) as { items: Array<{ key: string }> }).items).toEqual([]);
    expect((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
    const detect = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: fs.readFileSync(photo.path), headers: { 'content-type': 'image/png' }, signal: AbortSignal.timeout(10_000) });
    expect(detect.status).toBe(200);
  });

  it('answers a Host it does not know with 421 E_MISDIRECTED (DNS rebinding), loopback names with any port as usual', async () => {
    const port = server.port;
    for (const host of ['evil.example', `evil.example:${port}`, `localhost.evil.example:${port}`, `127.0.0.2:${port}`]) {
      for (const route of ['/v1/runs', '/openapi.json', `/v1/runs/x/results`, '/']) {
        const res = await getWithHost(`${server.url}${route}`, host);
        expect({ host, route, status: res.status, body: JSON.parse(res.text) as unknown }).toEqual({ host, route, status: 421, body: { code: 'E_MISDIRECTED', message: expect.stringContaining('--allowed-hosts') } });
      }
    }
    const jobs = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ runId: 'rebound', keys: [`file://${tmp}/in/a.png`], results: `file://${tmp}/out/r` });
      const req = request(`${server.url}/v1/jobs`, { method: 'POST', headers: { host: 'evil.example', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end(body);
    });
    expect(jobs).toBe(421);
    expect((await fetch(`${server.url}/v1/runs/rebound`)).status).toBe(404);
    for (const host of ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LocalHost:${port}`]) {
      expect({ host, status: (await getWithHost(`${server.url}/openapi.json`, host)).status }).toEqual({ host, status: 200 });
    }
    // Probes answer whatever the Host (kubelet sends the pod IP).
    expect((await getWithHost(`${server.url}/healthz`, 'evil.example')).status).toBe(200);
    // Refused requests are counted as answered, not left in flight.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/facefleet_http_requests_total\{method="GET",route="\/v1\/runs",status="421"\} 4/);
    expect(metrics).toMatch(/^facefleet_http_requests_in_flight 1$/m);
  });

  it('answers multipart bodies with a missing or bogus boundary with 400', async () => {
    const part = '--zzz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nxx\r\n--zzz--\r\n';
    for (const type of ['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=abc', `multipart/form-data; boundary="${'q'.repeat(70)}"`]) {
      const res = await rawPost(`${server.url}/v1/detect`, type, part);
      expect({ type, status: res.status, code: res.body.code }).toEqual({ type, status: 400, code: 'E_BAD_REQUEST' });
      expect(res.body.message).toMatch(/multipart/);
    }
  });

  it('refuses result names with control characters, from the query, a field or the file name', async () => {
    const png = fs.readFileSync(photo.path);
    for (const name of ['%00', 'a%00b', '%0A', 'x%1F', '%7F', '..%2Fescape']) {
      const res = await fetch(`${server.url}/v1/detect?name=${name}`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
      expect({ name, status: res.status, code: ((await res.json()) as ErrorBody).code }).toEqual({ name, status: 400, code: 'E_BAD_KEY' });
    }
    const field = new FormData();
    field.append('name', 'a\u0000b');
    field.append('file', new Blob([png], { type: 'image/png' }), 'a.png');
    const byField = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: field });
    expect([byField.status, ((await byField.json()) as ErrorBody).code]).toEqual([400, 'E_BAD_KEY']);
    const file = new FormData();
    file.append('file', new Blob([png], { type: 'image/png' }), 'bad\u0001name.png');
    const byFile = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: file });
    expect([byFile.status, ((await byFile.json()) as ErrorBody).code]).toEqual([400, 'E_BAD_KEY']);
    const fine = await fetch(`${server.url}/v1/detect?name=holiday/beach.png`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
    expect([fine.status, ((await fine.json()) as { key: string }).key]).toEqual([200, 'holiday/beach.png']);
  });
});
