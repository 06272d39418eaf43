import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Ajv2020 from 'ajv/dist/2020';
import pino from 'pino';
import sharp from 'sharp';
import { loadServeConfig } from '../../src/config/serve-config';
import { iou } from '../../src/detectors/nms';
import { findRepoRoot } from '../../src/models/registry';
import { parseResult } from '../../src/queue/result-schema';
import { DetectionResult, RESULT_SCHEMA_ID } from '../../src/queue/result';
import type { RunView } from '../../src/serve/run-view';
import { RunningServer, startServe } from '../../src/serve/start-serve';
import { allFixtures, FixtureEntry } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { testAllowedLocations } from '../support/test-roots';

/**
 * `facefleet serve` against real Redis and the real BlazeFace model on its inference thread: detection
 * answers, every bad input's status and code, batching across concurrent callers, admission control,
 * bearer auth, the run routes over a run processed by a real worker, and the OpenAPI document.
 */
describe('serve API', () => {
  let redis: PrivateRedis;
  const fixtures = allFixtures();
  const fixture = (file: string): FixtureEntry => {
    const f = fixtures.find((x) => x.file === file);
    if (!f) throw new Error(`fixture ${file} not found`);
    return f;
  };
  const bytes = (file: string) => fs.readFileSync(fixture(file).path);

  /** Starts a server on a free port; `logs` collects its log lines. */
  async function serve(flags: Record<string, unknown>, env: Record<string, string> = {}): Promise<RunningServer & { logs: string[] }> {
    const logs: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { logs.push(String(chunk)); done(); } });
    const config = loadServeConfig({ redisUrl: redis.url, queue: uniqueQueue('serve'), port: 0, allowedLocations: testAllowedLocations(), ...flags }, env);
    const server = await startServe(config, pino({ level: 'debug' }, sink), { handleSignals: false });
    return Object.assign(server, { logs });
  }

  const post = (s: RunningServer, body: Buffer | FormData | string, type?: string, query = '', headers: Record<string, string> = {}) =>
    fetch(`${s.url}/v1/detect${query}`, { method: 'POST', body, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  describe('detection', () => {
    let server: RunningServer & { logs: string[] };
    beforeAll(async () => {
      server = await serve({ batch: 8, maxWaitMs: 25, maxImageMb: 2, maxMegapixels: 20, maxInFlight: 128, maxQueue: 0 });
    });
    afterAll(async () => {
      await server?.lifecycle.close();
    });

    it('answers a fixture photo with its faces, as the queue result document (raw body)', async () => {
      for (const file of ['astronaut.png', 'astronaut-exif8.jpg', 'astronaut-grid4.jpg']) {
        const f = fixture(file);
        const res = await post(server, bytes(file), file.endsWith('.png') ? 'image/png' : 'image/jpeg');
        expect(res.status).toBe(200);
        const result = parseResult(await res.json());
        expect(result.schema).toBe(RESULT_SCHEMA_ID);
        expect(result.image).toMatchObject({ width: f.width, height: f.height });
        expect(result.source.size).toBe(bytes(file).length);
        expect(result.faces).toHaveLength(f.faces.length);
        for (const truth of f.faces) expect(result.faces.some((d) => iou(d.box, truth.box) >= 0.5)).toBe(true);
        expect(result.runId).toMatch(/^sync-/);
      }
    });

    it('takes multipart with one file, with options as fields or query', async () => {
      const form = new FormData();
      form.append('maxFaces', '2');
      form.append('file', new Blob([bytes('astronaut-grid4.jpg')], { type: 'image/jpeg' }), 'grid.jpg');
      const res = await post(server, form, undefined, '?scoreThreshold=0.5');
      expect(res.status).toBe(200);
      const result = parseResult(await res.json());
      expect(result.key).toBe('grid.jpg');
      expect(result.faces).toHaveLength(2);
      expect(result.faces[0].score).toBeGreaterThanOrEqual(result.faces[1].score);
    });

    it('applies scoreThreshold from the query', async () => {
      const res = await post(server, bytes('astronaut.png'), 'image/png', '?scoreThreshold=1');
      expect(res.status).toBe(200);
      expect((await json<DetectionResult>(res)).faces).toHaveLength(0);
    });

    it('answers each bad input with its status and code, as JSON', async () => {
      const form2 = new FormData();
      form2.append('a', new Blob([bytes('astronaut.png')]), 'a.png');
      form2.append('b', new Blob([bytes('astronaut.png')]), 'b.png');
      const huge = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#808080' } }).png().toBuffer();
      const cases: Array<{ name: string; res: () => Promise<Response>; status: number; code: string }> = [
        { name: 'truncated JPEG', res: () => post(server, bytes('corrupt-truncated.jpg'), 'image/jpeg'), status: 422, code: 'E_DECODE' },
        { name: 'text named .jpg', res: () => post(server, bytes('not-an-image.jpg'), 'image/jpeg'), status: 415, code: 'E_UNSUPPORTED_FORMAT' },
        { name: 'text content type', res: () => post(server, 'hello', 'text/plain'), status: 415, code: 'E_UNSUPPORTED_FORMAT' },
        { name: 'no body', res: () => post(server, Buffer.alloc(0), 'image/jpeg'), status: 400, code: 'E_BAD_REQUEST' },
        { name: 'body over the size limit', res: () => post(server, Buffer.alloc(3 * 1024 * 1024, 1), 'image/jpeg'), status: 413, code: 'E_TOO_LARGE' },
        { name: 'image over the megapixel limit', res: () => post(server, huge, 'image/png'), status: 413, code: 'E_TOO_LARGE' },
        { name: 'score threshold out of range', res: () => post(server, bytes('astronaut.png'), 'image/png', '?scoreThreshold=2'), status: 400, code: 'E_BAD_REQUEST' },
        { name: 'unknown query parameter', res: () => post(server, bytes('astronaut.png'), 'image/png', '?colour=red'), status: 400, code: 'E_BAD_REQUEST' },
        { name: 'another model', res: () => post(server, bytes('astronaut.png'), 'image/png', '?model=mogface'), status: 400, code: 'E_BAD_REQUEST' },
        { name: 'two files', res: () => post(server, form2), status: 400, code: 'E_BAD_REQUEST' },
        { name: 'unknown route', res: () => fetch(`${server.url}/v1/nothing`), status: 404, code: 'E_NOT_FOUND' },
      ];
      for (const c of cases) {
        const res = await c.res();
        const body = await json<ErrorBody>(res);
        expect({ name: c.name, status: res.status, code: body.code }).toEqual({ name: c.name, status: c.status, code: c.code });
        expect(typeof body.message).toBe('string');
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      }
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    });

    it('batches concurrent callers: 64 requests all succeed and the batch-size histogram shows batches larger than 1', async () => {
      const before = await batchCounts(server.url);
      const files = ['astronaut.png', 'astronaut-grid4.jpg', 'coffee-noface.png', 'cameraman-gray.png'];
      const answers = await Promise.all(
        Array.from({ length: 64 }, (_, i) => post(server, bytes(files[i % files.length]), files[i % files.length].endsWith('.png') ? 'image/png' : 'image/jpeg').then(async (r) => ({ status: r.status, body: await json<DetectionResult>(r) }))),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(64).fill(200));
      for (const a of answers) parseResult(a.body);
      const after = await batchCounts(server.url);
      const batches = after.count - before.count;
      const multi = after.count - after.le1 - (before.count - before.le1);
      expect(multi).toBeGreaterThan(0);
      expect(batches).toBeLessThan(64);
      expect(Math.max(...answers.map((a) => a.body.timings.batchSize))).toBeGreaterThan(1);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(sample(metrics, 'facefleet_http_requests_total{method="POST",route="/v1/detect",status="200"}')).toBeGreaterThanOrEqual(64);
      expect(sample(metrics, 'facefleet_http_request_duration_seconds_count{method="POST",route="/v1/detect"}')).toBeGreaterThanOrEqual(64);
      expect(metrics).toMatch(/^facefleet_http_requests_in_flight \d+/m);
      expect(sample(metrics, 'facefleet_serve_detect_in_flight')).toBe(0);
    });

    it('reports readiness and serves an OpenAPI document of its routes', async () => {
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      const doc = await json<OpenApiDoc>(await fetch(`${server.url}/openapi.json`));
      expect(doc.openapi).toBe('3.1.0');
      for (const p of ['/v1/detect', '/v1/jobs', '/v1/runs', '/v1/runs/{id}', '/v1/runs/{id}/results', '/v1/runs/{id}/results/{key}', '/healthz', '/readyz', '/metrics']) expect(Object.keys(doc.paths)).toContain(p);
      const detect = doc.paths['/v1/detect'].post;
      expect(detect.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['model', 'scoreThreshold', 'maxFaces']));
      expect(Object.keys(detect.responses)).toEqual(expect.arrayContaining(['200', '400', '413', '415', '422', '429', '503']));
      expect(doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema.required).toContain('results');
      // The documented answer is the published result contract, and a live answer validates against it.
      const schema = (detect.responses['200'] as { content: Record<string, { schema: { properties: object } }> }).content['application/json'].schema;
      const published = JSON.parse(fs.readFileSync(path.join(findRepoRoot(), 'schemas', 'result.v1.schema.json'), 'utf8')) as { properties: object };
      expect(schema.properties).toEqual(published.properties);
      const validate = new Ajv2020({ strict: false, validateFormats: false }).compile(schema);
      const live = await json(await post(server, bytes('astronaut-grid4.jpg'), 'image/jpeg'));
      expect(validate(live) ? [] : validate.errors).toEqual([]);
    });
  });

  it('serves the API without the console when its files are missing, and says so in the log', async () => {
    const logs: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { logs.push(String(chunk)); done(); } });
    const config = loadServeConfig({ redisUrl: redis.url, queue: uniqueQueue('serve'), port: 0, allowedLocations: testAllowedLocations() }, {});
    const bare = await startServe(config, pino({ level: 'info' }, sink), { handleSignals: false, consoleDir: path.join(os.tmpdir(), 'no-such-console') });
    try {
      expect((await fetch(`${bare.url}/`)).status).toBe(404);
      expect((await post(bare, bytes('astronaut.png'), 'image/png')).status).toBe(200);
      expect(logs.join('')).toContain('console files not found');
    } finally {
      await bare.lifecycle.close();
    }
  });

  describe('admission control', () => {
    let server: RunningServer & { logs: string[] };
    beforeAll(async () => {
      server = await serve({ batch: 2, maxWaitMs: 5, maxInFlight: 2, maxQueue: 2, queueTimeoutMs: 10_000 });
    });
    afterAll(async () => {
      await server?.lifecycle.close();
    });

    it('answers 429 with Retry-After over the in-flight limit, serves the rest, and keeps working', async () => {
      const body = bytes('astronaut-grid4.jpg');
      const answers = await Promise.all(
        Array.from({ length: 40 }, () => post(server, body, 'image/jpeg').then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await json<ErrorBody>(r) }))),
      );
      const refused = answers.filter((a) => a.status === 429);
      const served = answers.filter((a) => a.status === 200);
      expect(refused.length).toBeGreaterThan(0);
      expect(served.length).toBeGreaterThanOrEqual(4);
      expect(refused.length + served.length).toBe(40);
      for (const r of refused) {
        expect(r.body.code).toBe('E_OVERLOADED');
        expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(sample(metrics, 'facefleet_serve_detect_rejected_total{reason="queue_full"}')).toBe(refused.length);
      expect(sample(metrics, 'facefleet_serve_detect_in_flight')).toBe(0);
      expect(sample(metrics, 'facefleet_serve_detect_queued')).toBe(0);
      expect(sample(metrics, 'facefleet_http_requests_total{method="POST",route="/v1/detect",status="429"}')).toBe(refused.length);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect((await post(server, body, 'image/jpeg')).status).toBe(200);
    });

    it('answers 503 with Retry-After while the inference thread is down, and says so on /readyz', async () => {
      await server.model.session.close();
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'fail', reason: 'inference thread down' });
      const res = await post(server, bytes('astronaut.png'), 'image/png');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await json<ErrorBody>(res)).code).toBe('E_NOT_READY');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    });
  });

  describe('bearer auth', () => {
    const token = 'test-token-abcdefghijklmnop';
    let server: RunningServer & { logs: string[] };
    beforeAll(async () => {
      server = await serve({}, { FACEFLEET_API_TOKEN: token });
    });
    afterAll(async () => {
      await server?.lifecycle.close();
    });

    it('refuses requests without the token (401) and serves them with it (200); health needs none', async () => {
      const none = await post(server, bytes('astronaut.png'), 'image/png');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect((await json<ErrorBody>(none)).code).toBe('E_UNAUTHORIZED');
      const wrong = await post(server, bytes('astronaut.png'), 'image/png', '', { authorization: 'Bearer not-the-token-0000000' });
      expect(wrong.status).toBe(401);
      const right = await post(server, bytes('astronaut.png'), 'image/png', '', { authorization: `Bearer ${token}` });
      expect(right.status).toBe(200);
      expect((await json<DetectionResult>(right)).faces).toHaveLength(1);
      for (const p of ['/v1/runs', '/metrics', '/openapi.json']) {
        expect((await fetch(`${server.url}${p}`)).status).toBe(401);
        expect((await fetch(`${server.url}${p}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      }
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const doc = await json<OpenApiDoc>(await fetch(`${server.url}/openapi.json`, { headers: { authorization: `Bearer ${token}` } }));
      expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    });

    it('opens the queue board to a browser only through the cookie that POST /v1/session grants for the token', async () => {
      expect((await fetch(`${server.url}/queues/`)).status).toBe(401);
      expect((await fetch(`${server.url}/v1/session`, { method: 'POST' })).status).toBe(401);
      const session = await fetch(`${server.url}/v1/session`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(session.status).toBe(204);
      const setCookie = session.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/^facefleet_board=[\w-]+; Path=\/queues; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
      expect(setCookie).not.toContain(token);
      const cookie = setCookie.split(';')[0];
      expect((await fetch(`${server.url}/queues/`, { headers: { cookie } })).status).toBe(200);
      const board = await json<{ queues: Array<{ readOnlyMode: boolean }> }>(await fetch(`${server.url}/queues/api/queues`, { headers: { cookie } }));
      expect(board.queues[0].readOnlyMode).toBe(false);
      // The cookie opens the board and nothing else; a forged one opens nothing.
      expect((await fetch(`${server.url}/v1/runs`, { headers: { cookie } })).status).toBe(401);
      expect((await fetch(`${server.url}/queues/`, { headers: { cookie: 'facefleet_board=forged' } })).status).toBe(401);
      for (const sneaky of ['/queues/../v1/runs', '/queues/%2e%2e/v1/runs', '//queues/../metrics']) {
        expect((await fetch(`${server.url}${sneaky}`, { headers: { cookie } })).status).toBe(401);
      }
    });

    it('marks the board cookie Secure when the console page came over https, and draws it anew per server start', async () => {
      const viaTls = await fetch(`${server.url}/v1/session`, { method: 'POST', headers: { authorization: `Bearer ${token}`, origin: 'https://127.0.0.1:8443' } });
      expect(viaTls.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
      const plain = await fetch(`${server.url}/v1/session`, { method: 'POST', headers: { authorization: `Bearer ${token}`, origin: server.url } });
      expect(plain.headers.get('set-cookie')).not.toMatch(/Secure/);
      const cookie = (plain.headers.get('set-cookie') ?? '').split(';')[0];
      expect((await fetch(`${server.url}/queues/`, { headers: { cookie } })).status).toBe(200);
      // Another start with the same token draws another secret: the old cookie opens nothing there.
      const second = await serve({}, { FACEFLEET_API_TOKEN: token });
      try {
        const again = await fetch(`${second.url}/v1/session`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        expect((again.headers.get('set-cookie') ?? '').split(';')[0]).not.toBe(cookie);
        expect((await fetch(`${second.url}/queues/`, { headers: { cookie } })).status).toBe(401);
      } finally {
        await second.lifecycle.close();
      }
    });

    it('never writes the token to its logs', async () => {
      await post(server, Buffer.from('x'), 'image/jpeg', '', { authorization: `Bearer ${token}` });
      await new Promise((r) => server.logs.length ? r(undefined) : setTimeout(r, 100));
      expect(server.logs.length).toBeGreaterThan(0);
      expect(server.logs.join('\n')).not.toContain(token);
    });
  });

  describe('runs', () => {
    let server: RunningServer & { logs: string[] };
    let fleet: TestFleet;
    let tmp: string;
    const runId = 'serve-run-1';
    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-serve-'));
      const queue = uniqueQueue('serve-runs');
      server = await serve({ queue });
      fleet = openFleet(redis.url, queue);
      await fleet.startWorker({ batch: 4 });
    });
    afterAll(async () => {
      await server?.lifecycle.close();
      await fleet?.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const api = (p: string, init?: RequestInit) => fetch(`${server.url}${p}`, init);
    const postJobs = (body: unknown) => api('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    it('refuses bad job requests before anything is enqueued', async () => {
      const f = fixtures[0];
      const cases: Array<[unknown, number, string]> = [
        [{ keys: ['a.jpg'], results: `file://${tmp}/r` }, 400, 'E_BAD_REQUEST'],
        [{ keys: [`file://${f.path}`], results: 'http://example.com/r' }, 400, 'E_BAD_REQUEST'],
        [{ keys: ['../etc/passwd'], base: `file://${f.folder}/`, results: `file://${tmp}/r` }, 400, 'E_BAD_KEY'],
        [{ keys: [`file://${f.path}`], prefix: `file://${f.folder}/`, results: `file://${tmp}/r` }, 400, 'E_BAD_REQUEST'],
        [{ keys: [], results: `file://${tmp}/r` }, 400, 'E_BAD_REQUEST'],
        [{ prefix: `file://${tmp}/empty/`, results: `file://${tmp}/r` }, 404, 'E_NOT_FOUND'],
      ];
      for (const [body, status, code] of cases) {
        const res = await postJobs({ runId: 'bad-run', ...(body as object) });
        expect({ body, status: res.status, code: (await json<ErrorBody>(res)).code }).toEqual({ body, status, code });
      }
      expect((await api('/v1/runs/bad-run')).status).toBe(404);
      expect(await fleet.queue.count()).toBe(0);
    });

    it('enqueues keys as a run and shows its progress, failures by code, results and images', async () => {
      const res = await postJobs({ runId, keys: fixtures.map((f) => path.relative(f.folder, f.path)), base: `file://${fixtures[0].folder}/`, results: `file://${tmp}/results` });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ runId, status: 'sealed', enqueued: fixtures.length, duplicates: 0 });
      await fleet.waitForRun(runId);

      const run = await json<RunView>(await api(`/v1/runs/${runId}`));
      const failures = fixtures.filter((f) => f.expectError).length;
      expect(run).toMatchObject({ runId, state: 'finished', total: fixtures.length, finished: fixtures.length, failed: failures, progress: 1, etaSeconds: 0 });
      expect(run.failures.E_DECODE).toBe(1);
      expect(run.failures.E_UNSUPPORTED_FORMAT).toBe(failures - 1);

      const list = await json<{ runs: RunView[] }>(await api('/v1/runs'));
      expect(list.runs.map((r) => r.runId)).toContain(runId);

      const page1 = await json<ResultsPage>(await api(`/v1/runs/${runId}/results?limit=5`));
      expect(page1.items).toHaveLength(5);
      expect(page1.next).toBe(page1.items[4].key);
      const page2 = await json<ResultsPage>(await api(`/v1/runs/${runId}/results?limit=100&after=${encodeURIComponent(page1.next ?? '')}`));
      expect(page2.next).toBeUndefined();
      const keys = [...page1.items, ...page2.items].map((i) => i.key);
      expect(keys.sort()).toEqual(fixtures.filter((f) => !f.expectError).map((f) => path.relative(f.folder, f.path)).sort());

      const grid = await api(`/v1/runs/${runId}/results/astronaut-grid4.jpg`);
      expect(grid.status).toBe(200);
      expect(parseResult(await grid.json()).faces).toHaveLength(4);
      const image = await api(`/v1/runs/${runId}/images/astronaut-exif8.jpg?w=256`);
      expect(image.status).toBe(200);
      expect(image.headers.get('content-type')).toBe('image/jpeg');
      const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
      expect([meta.width, meta.height, meta.orientation ?? 1]).toEqual([256, 256, 1]);

      expect((await api(`/v1/runs/${runId}/results/no-such.jpg`)).status).toBe(404);
      expect((await json<ErrorBody>(await api(`/v1/runs/${runId}/results/a%2F..%2Fb`))).code).toBe('E_BAD_KEY');
      expect((await api('/v1/runs/no-such-run')).status).toBe(404);
    });

    it('refuses file:// keys and results on a default server (no --allowed-locations) with 400 E_BAD_KEY, and queues nothing', async () => {
      const open = await serve({ allowedLocations: '' });
      try {
        const res = await fetch(`${open.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runId: 'default-off', keys: [`file://${fixtures[0].path}`], results: `file://${tmp}/off` }) });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ code: 'E_BAD_KEY', message: expect.stringContaining('file:// locations are off') });
        expect((await fetch(`${open.url}/v1/runs/default-off`)).status).toBe(404);
        expect(fs.existsSync(path.join(tmp, 'off'))).toBe(false);
      } finally {
        await open.lifecycle.close();
      }
    });

    it('confines jobs to the allowed locations', async () => {
      const confined = await serve({ allowedLocations: `file://${fixtures[0].folder}/,file://${tmp}/` });
      try {
        const send = (body: unknown) => fetch(`${confined.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runId: 'confined', ...(body as object) }) });
        const outside = await send({ keys: ['file:///etc/hostname'], results: `file://${tmp}/c` });
        expect([outside.status, (await json<ErrorBody>(outside)).code]).toEqual([400, 'E_BAD_KEY']);
        const badResults = await send({ keys: [`file://${fixtures[0].path}`], results: 'file:///var/tmp/c' });
        expect([badResults.status, (await json<ErrorBody>(badResults)).code]).toEqual([400, 'E_BAD_KEY']);
        const inside = await send({ keys: [`file://${fixtures[0].path}`], results: `file://${tmp}/c` });
        expect(inside.status).toBe(201);
      } finally {
        await confined.lifecycle.close();
      }
    });

    it('mounts the BullMQ board read-only under /queues, with nothing loaded from a CDN', async () => {
      const page = await api('/queues/');
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<base href="/queues/"');
      expect(html).not.toMatch(/https?:\/\//);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      const board = await json<{ queues: Array<{ name: string; readOnlyMode: boolean }> }>(await api('/queues/api/queues'));
      expect(board.queues.map((q) => [q.name, q.readOnlyMode])).toEqual([[fleet.queueName, true]]);
      const session = await api('/v1/session', { method: 'POST' });
      expect(session.status).toBe(204);
      expect(session.headers.get('set-cookie')).toBeNull();
    });

    it('sends the transient failures of a run back to the queue, leaving permanent ones, and the run finishes', async () => {
      // A symlink loop where a photo should be: resolving it fails with ELOOP, which the file store
      // does not classify, so a transient E_STORAGE. (A socket or FIFO there is a permanent E_NOT_FOUND.)
      const src = path.join(tmp, 'flaky');
      fs.mkdirSync(src);
      const loopPath = path.join(src, 'flaky.png');
      fs.symlinkSync('flaky.png', loopPath);
      fs.copyFileSync(fixture('not-an-image.jpg').path, path.join(src, 'text.jpg'));
      fs.copyFileSync(fixture('astronaut.png').path, path.join(src, 'ok.png'));
      const once = await serve({ queue: fleet.queueName, attempts: 1 });
      try {
        const res = await fetch(`${once.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runId: 'retry-run', keys: ['flaky.png', 'text.jpg', 'ok.png'], base: `file://${src}/`, results: `file://${tmp}/retry-results` }) });
        expect(res.status).toBe(201);
        await fleet.waitForRun('retry-run');
        const failed = await json<RunView & { retryable: number }>(await api('/v1/runs/retry-run'));
        expect(failed).toMatchObject({ done: 1, failed: 2, retryable: 1, failures: { E_STORAGE: 1, E_UNSUPPORTED_FORMAT: 1 } });

        fs.rmSync(loopPath, { force: true });
        fs.copyFileSync(fixture('astronaut.png').path, loopPath);
        const retry = await api('/v1/runs/retry-run/retry', { method: 'POST' });
        expect(await json(retry)).toEqual({ retried: 1, byCode: { E_STORAGE: 1 } });
        const done = await fleet.waitForRun('retry-run');
        expect(done).toMatchObject({ done: 2, failed: 1, failures: { E_STORAGE: 0, E_UNSUPPORTED_FORMAT: 1 } });
        expect(await json(await api('/v1/runs/retry-run/retry', { method: 'POST' }))).toEqual({ retried: 0, byCode: {} });
        expect(parseResult(await json(await api('/v1/runs/retry-run/results/flaky.png'))).faces).toHaveLength(1);
      } finally {
        await once.lifecycle.close();
      }
    });

    it('enqueues a prefix in the background (202) and the run finishes', async () => {
      const res = await postJobs({ runId: 'serve-run-prefix', prefix: `file://${fixtures[0].folder}/`, results: `file://${tmp}/prefix-results`, incremental: true });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ runId: 'serve-run-prefix', status: 'enqueuing' });
      const status = await fleet.waitForRun('serve-run-prefix');
      expect(status.total).toBe(fixtures.length);
    });
  });
});

/** An error answer. */
interface ErrorBody {
  code: string;
  message: string;
}

/** A page of `/v1/runs/:id/results`. */
interface ResultsPage {
  items: Array<{ key: string }>;
  next?: string;
}

/** The parts of the OpenAPI document the tests read. */
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { parameters: Array<{ name: string }>; responses: Record<string, unknown>; requestBody: { content: Record<string, { schema: { required?: string[] } }> } }>>;
  components: { securitySchemes: Record<string, unknown> };
}

/** A response body parsed as JSON, typed for the test. */
async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** The value of one sample line of a Prometheus text exposition. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no sample ${series}`);
  return Number(line.slice(series.length + 1));
}

/** Batches run so far, and how many of them held one image. */
async function batchCounts(url: string): Promise<{ count: number; le1: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    count: sample(text, 'facefleet_batch_size_count{model="retinaface"}'),
    le1: sample(text, 'facefleet_batch_size_bucket{le="1",model="retinaface"}'),
  };
}
