import os from 'node:os';
import { isLoopbackHost, loadServeConfig } from '../../src/config/serve-config';
import { FacefleetError } from '../../src/errors';
import { ApiError, statusOf, toApiError } from '../../src/serve/api-error';
import { BearerAuth } from '../../src/serve/bearer-auth';
import { HostAllowList } from '../../src/serve/host-allow-list';
import { parseFields } from '../../src/serve/detect-route';
import { isRetryableCode, retryableCount } from '../../src/serve/run-retry';
import { RunRates } from '../../src/serve/run-view';
import { bindWarning } from '../../src/serve/start-serve';
import type { RunStatus } from '../../src/queue/run-store';

describe('API error mapping', () => {
  it.each([
    ['E_DECODE', 422],
    ['E_UNSUPPORTED_FORMAT', 415],
    ['E_TOO_LARGE', 413],
    ['E_BAD_KEY', 400],
    ['E_NOT_FOUND', 404],
    ['E_INFERENCE', 503],
    ['E_REDIS', 503],
    ['E_INTERNAL', 500],
  ] as const)('answers %s with %i', (code, status) => {
    const api = toApiError(new FacefleetError(code, 'x'));
    expect(statusOf(code)).toBe(status);
    expect(api.code).toBe(code);
    expect(api.status).toBe(status);
  });

  it('gives transient project errors a Retry-After and permanent ones none', () => {
    expect(toApiError(new FacefleetError('E_STORAGE', 'blip')).retryAfterS).toBe(1);
    expect(toApiError(new FacefleetError('E_DECODE', 'bad')).retryAfterS).toBeUndefined();
  });

  it("maps Fastify's and the multipart parser's codes, not their messages", () => {
    expect(toApiError(Object.assign(new Error('whatever'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })).code).toBe('E_TOO_LARGE');
    expect(toApiError(Object.assign(new Error('whatever'), { code: 'FST_REQ_FILE_TOO_LARGE' })).code).toBe('E_TOO_LARGE');
    expect(toApiError(Object.assign(new Error('whatever'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })).status).toBe(415);
    expect(toApiError(Object.assign(new Error('whatever'), { code: 'FST_FILES_LIMIT' })).status).toBe(400);
    expect(toApiError(Object.assign(new Error('querystring/x must be number'), { validation: [{}] })).code).toBe('E_BAD_REQUEST');
  });

  it('hides the text of unclassified errors behind E_INTERNAL', () => {
    for (const err of [new Error('secret internals'), new FacefleetError('E_INTERNAL', 'secret internals')]) {
      const api = toApiError(err);
      expect(api.code).toBe('E_INTERNAL');
      expect(api.status).toBe(500);
      expect(api.message).not.toContain('secret');
    }
  });

  it('has a status for every HTTP-only code', () => {
    expect(statusOf('E_OVERLOADED')).toBe(429);
    expect(statusOf('E_UNAUTHORIZED')).toBe(401);
    expect(statusOf('E_NOT_READY')).toBe(503);
    expect(new ApiError('E_BAD_REQUEST', 'x').status).toBe(400);
  });
});

describe('BearerAuth', () => {
  const auth = new BearerAuth('s3cret-token-0123456789');
  it('draws a board cookie per instance that another instance with the same token refuses', () => {
    const other = new BearerAuth('s3cret-token-0123456789');
    const mine = auth.boardCookie('/queues', 60).split(';')[0];
    expect(other.boardCookie('/queues', 60).split(';')[0]).not.toBe(mine);
    expect(auth.hasBoardCookie(mine)).toBe(true);
    expect(other.hasBoardCookie(mine)).toBe(false);
    expect(auth.boardCookie('/queues', 60, true)).toMatch(/; Secure$/);
    expect(auth.boardCookie('/queues', 60)).not.toMatch(/Secure/);
  });
  it('accepts the token, in any case of the scheme', () => {
    expect(() => auth.check('Bearer s3cret-token-0123456789')).not.toThrow();
    expect(() => auth.check('bearer s3cret-token-0123456789')).not.toThrow();
  });
  it.each([undefined, '', 'Basic abc', 'Bearer wrong', 'Bearer s3cret-token-012345678', 'Bearer s3cret-token-0123456789 extra'])('refuses %p with E_UNAUTHORIZED', (header) => {
    let err: unknown;
    try {
      auth.check(header);
    } catch (e) {
      err = e;
    }
    expect((err as ApiError).code).toBe('E_UNAUTHORIZED');
    expect((err as ApiError).message).not.toContain('s3cret');
  });
});

describe('multipart fields', () => {
  it('parses the same parameters as the query string', () => {
    expect(parseFields({ model: 'blazeface', scoreThreshold: '0.6', iouThreshold: '0.3', maxFaces: '3', name: 'a.jpg' })).toEqual({ model: 'blazeface', scoreThreshold: 0.6, iouThreshold: 0.3, maxFaces: 3, name: 'a.jpg' });
  });
  it.each<Record<string, string>>([{ scoreThreshold: '2' }, { scoreThreshold: '' }, { maxFaces: '0' }, { maxFaces: '1.5' }, { model: 'yolo' }, { other: '1' }])('refuses %p with E_BAD_REQUEST', (fields) => {
    expect(() => parseFields(fields)).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
  });
});

describe('RunRates', () => {
  const base: RunStatus = { runId: 'r', total: 100, done: 0, skipped: 0, failed: 0, sealed: true, createdAt: new Date(0).toISOString(), failures: {}, results: 'file:///tmp/r', model: 'blazeface' };

  it('derives state, progress, a windowed rate and the ETA from successive reads', () => {
    let now = 10_000;
    const rates = new RunRates({ now: () => now });
    const first = rates.view({ ...base, done: 10 });
    expect(first.state).toBe('running');
    expect(first.progress).toBeCloseTo(0.1);
    expect(first.rate).toBeCloseTo(1); // 10 images in the 10 s since creation
    now += 2000;
    const second = rates.view({ ...base, done: 28, failed: 2 });
    expect(second.finished).toBe(30);
    expect(second.rate).toBeCloseTo(10); // 20 more in 2 s
    expect(second.etaSeconds).toBe(7);
  });

  it('says enqueuing before the run is sealed (no ETA: the total is not final) and finished at the end', () => {
    const rates = new RunRates({ now: () => 5000 });
    const open = rates.view({ ...base, sealed: false, total: 10, done: 5 });
    expect(open.state).toBe('enqueuing');
    expect(open.etaSeconds).toBeNull();
    const done = rates.view({ ...base, total: 10, done: 8, skipped: 1, failed: 1 });
    expect(done.state).toBe('finished');
    expect(done.progress).toBe(1);
    expect(done.etaSeconds).toBe(0);
  });

  it('clamps counts above the total (a job counted twice after a crash)', () => {
    const v = new RunRates().view({ ...base, total: 4, done: 5 });
    expect(v.finished).toBe(4);
    expect(v.progress).toBe(1);
  });

  it('forgets the least recently seen runs beyond maxRuns', () => {
    let now = 0;
    const rates = new RunRates({ maxRuns: 2, now: () => now });
    for (const id of ['a', 'b', 'c']) rates.view({ ...base, runId: id, done: 1 });
    now += 1000;
    // 'a' was evicted: with one sample its rate falls back to the mean since creation.
    expect(rates.view({ ...base, runId: 'a', done: 3 }).rate).toBeCloseTo(3);
    expect(rates.view({ ...base, runId: 'c', done: 3 }).rate).toBeCloseTo(2);
  });
});

describe('retryable failures', () => {
  it('counts only transient codes, and never a negative count', () => {
    expect(retryableCount({ E_STORAGE: 2, E_INFERENCE: 1, E_SHUTDOWN: 1, E_REDIS: 1, E_DECODE: 5, E_UNSUPPORTED_FORMAT: 1, E_INTERNAL: 3, E_NOPE: 2 })).toBe(5);
    expect(retryableCount({ E_STORAGE: -1 })).toBe(0);
    expect(isRetryableCode('E_STORAGE_DENIED')).toBe(false);
    expect(isRetryableCode('E_INTERNAL')).toBe(false);
    expect(isRetryableCode('E_NOPE')).toBe(false);
  });
});

describe('serve config', () => {
  it('binds loopback by default and reads host, port and limits from flags or env', () => {
    const c = loadServeConfig({}, {});
    expect(c.host).toBe('127.0.0.1');
    expect(c.loopback).toBe(true);
    expect(c.port).toBe(8080);
    expect(c.apiToken).toBeUndefined();
    const d = loadServeConfig({ port: '0' }, { FACEFLEET_SERVE_HOST: '0.0.0.0', FACEFLEET_SERVE_MAX_IN_FLIGHT: '3', FACEFLEET_MAX_IMAGE_MB: '2' });
    expect(d.host).toBe('0.0.0.0');
    expect(d.loopback).toBe(false);
    expect(d.port).toBe(0);
    expect(d.maxInFlight).toBe(3);
    expect(d.maxBytes).toBe(2 * 1024 * 1024);
  });

  it('reads the token from the environment only, and never repeats a bad one', () => {
    expect(loadServeConfig({ apiToken: 'from-a-flag-0123456789' }, {}).apiToken).toBeUndefined();
    expect(loadServeConfig({}, { FACEFLEET_API_TOKEN: 'a-good-token-0123456789' }).apiToken).toBe('a-good-token-0123456789');
    let msg = '';
    try {
      loadServeConfig({}, { FACEFLEET_API_TOKEN: 'short-tok' });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/apiToken .*FACEFLEET_API_TOKEN.*16/);
    expect(msg).not.toContain('short-tok');
  });

  it('names the field of a bad value', () => {
    expect(() => loadServeConfig({ port: '70000' }, {})).toThrow(/port \(--port\)/);
    expect(() => loadServeConfig({}, { FACEFLEET_SERVE_ALLOWED_LOCATIONS: 'http://x/' })).toThrow(/allowedLocations/);
  });

  it('warns when binding a non-loopback address without a token, naming the variable and not a token', () => {
    expect(bindWarning(loadServeConfig({}, {}))).toBeUndefined();
    expect(bindWarning(loadServeConfig({ host: '0.0.0.0' }, { FACEFLEET_API_TOKEN: 'tok-0123456789abcdef' }))).toBeUndefined();
    expect(bindWarning(loadServeConfig({ host: '0.0.0.0' }, {}))).toMatch(/0\.0\.0\.0.*WITHOUT authentication.*FACEFLEET_API_TOKEN/);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
  ])('isLoopbackHost(%p) is %p', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('HostAllowList', () => {
  const list = HostAllowList.forBind('127.0.0.1', ['faces.example.org', '[fd00::5]']);
  it.each(['localhost', 'localhost:8080', '127.0.0.1:1', '[::1]:8080', '[::1]', 'LOCALHOST', 'faces.example.org:443', 'faces.example.org.', '[fd00::5]:80'])('accepts %s', (host) => {
    expect(list.allows(host)).toBe(true);
  });
  it.each([undefined, '', 'evil.example', 'evil.example:8080', 'localhost.evil.example', '127.0.0.2', 'faces.example.org.evil', '[::2]:80', 'fd00::6'])('refuses %p', (host) => {
    expect(list.allows(host)).toBe(false);
  });
  it('accepts the bind address, and anything with *', () => {
    expect(HostAllowList.forBind('10.1.2.3').allows('10.1.2.3:8080')).toBe(true);
    expect(HostAllowList.forBind('10.1.2.3').allows('10.1.2.4:8080')).toBe(false);
    expect(HostAllowList.forBind('127.0.0.1', ['*']).allows('evil.example')).toBe(true);
  });
  it('with a wildcard bind, accepts this machine’s own addresses', () => {
    expect(HostAllowList.forBind('0.0.0.0').allows(`${os.hostname()}:8080`)).toBe(true);
    expect(HostAllowList.forBind('0.0.0.0').allows('evil.example')).toBe(false);
  });
  it('answers a refused Host with 421', () => {
    expect(statusOf('E_MISDIRECTED')).toBe(421);
  });
});

describe('serve timeouts config', () => {
  it('defaults to 10 s headers, 60 s request, 5 s keep-alive', () => {
    const c = loadServeConfig({}, {});
    expect([c.headersTimeoutMs, c.requestTimeoutMs, c.keepAliveTimeoutMs]).toEqual([10_000, 60_000, 5_000]);
  });
  it('refuses a request timeout not above the admission wait, and headers slower than the request', () => {
    expect(() => loadServeConfig({ requestTimeoutMs: '4000', queueTimeoutMs: '5000' }, {})).toThrow(/requestTimeoutMs.*queueTimeoutMs/);
    expect(() => loadServeConfig({ headersTimeoutMs: '20000', requestTimeoutMs: '10000' }, {})).toThrow(/headersTimeoutMs/);
  });
  it('reads allowed hosts from the environment and refuses ones with a scheme or path', () => {
    expect(loadServeConfig({}, { FACEFLEET_SERVE_ALLOWED_HOSTS: 'a.example, b.example' }).allowedHosts).toEqual(['a.example', 'b.example']);
    expect(() => loadServeConfig({ allowedHosts: 'http://a.example/' }, {})).toThrow(/allowedHosts/);
  });
});
