import { loadDemoConfig } from '../../src/config/demo-config';
import { fieldLabel } from '../../src/config/parse';
import { loadProducerConfig } from '../../src/config/producer-config';
import { loadFailedConfig, loadRunsConfig } from '../../src/config/queue-admin-config';
import { loadServeConfig } from '../../src/config/serve-config';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { FacefleetError } from '../../src/errors';

function configError(fn: () => unknown): FacefleetError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FacefleetError);
    return err as FacefleetError;
  }
  throw new Error('expected a config error');
}

describe('worker config', () => {
  it('has documented defaults and derives concurrency from the batch', () => {
    const c = loadWorkerConfig({}, {});
    expect(c).toMatchObject({ queue: 'facefleet', redisPrefix: 'bull', model: 'retinaface', batch: 1, maxWaitMs: 10, providers: ['cpu'], metricsPort: 9464, drainTimeoutMs: 25_000 });
    expect(c.effectiveConcurrency).toBe(3);
    expect(loadWorkerConfig({ batch: '8' }, {}).effectiveConcurrency).toBe(24);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes flags over environment over defaults', () => {
    const env = { FACEFLEET_BATCH: '4', FACEFLEET_QUEUE: 'from-env', REDIS_URL: 'redis://r:6379' };
    expect(loadWorkerConfig({}, env)).toMatchObject({ batch: 4, queue: 'from-env', redisUrl: 'redis://r:6379' });
    expect(loadWorkerConfig({ batch: '16' }, env)).toMatchObject({ batch: 16, queue: 'from-env' });
  });

  it('names the field, its source, what was expected and what was given', () => {
    const e = configError(() => loadWorkerConfig({ batch: '0' }, {}));
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toMatch(/batch \(--batch\): .*>=\s*1.*given "0"/s);
    const env = configError(() => loadWorkerConfig({}, { FACEFLEET_PROVIDERS: 'gpu' }));
    expect(env.message).toMatch(/providers \(env FACEFLEET_PROVIDERS\): expected a comma-separated list .* given "gpu"/);
    const many = configError(() => loadWorkerConfig({ redisUrl: 'http://x', maxWaitMs: '-1' }, {}));
    expect(many.message).toMatch(/redisUrl/);
    expect(many.message).toMatch(/maxWaitMs/);
  });

  it('accepts a Redis Cluster hash-tag prefix', () => {
    expect(loadWorkerConfig({ redisPrefix: '{facefleet}' }, {}).redisPrefix).toBe('{facefleet}');
    expect(configError(() => loadWorkerConfig({ redisPrefix: 'a:b' }, {})).message).toMatch(/redisPrefix/);
  });

  it('refuses file roots a store cannot be rooted at, before connecting', () => {
    expect(loadWorkerConfig({ fileRoots: '/srv/in,/srv/out/' }, {}).fileRoots).toEqual(['/srv/in', '/srv/out/']);
    expect(configError(() => loadWorkerConfig({ fileRoots: '/srv/../etc' }, {})).message).toMatch(/fileRoots .*"\.\."/);
    expect(configError(() => loadWorkerConfig({ fileRoots: '/srv//out' }, {})).code).toBe('E_CONFIG');
  });

  it('refuses / as a file root, alone or among others, from a flag or the environment', () => {
    for (const roots of ['/', '/srv/in,/', '//']) {
      const err = configError(() => loadWorkerConfig({ fileRoots: roots }, {}));
      expect(err.code).toBe('E_CONFIG');
      expect(err.message).toMatch(/fileRoots \(--file-roots\): "\/" is the whole file system/);
    }
    expect(configError(() => loadWorkerConfig({}, { FACEFLEET_FILE_ROOTS: '/' })).message).toMatch(/fileRoots \(env FACEFLEET_FILE_ROOTS\)/);
  });
});

describe('serve config', () => {
  it('refuses allowed locations that are not location URLs, before connecting', () => {
    expect(loadServeConfig({ allowedLocations: 's3://photos, file:///srv/out/' }, {}).allowedLocations).toEqual(['s3://photos', 'file:///srv/out/']);
    for (const bad of ['file:///srv/../etc', 's3://a', 'http://x/', 'file:///', 's3://photos,file:///']) {
      expect(configError(() => loadServeConfig({ allowedLocations: bad }, {})).message).toMatch(/allowedLocations/);
    }
  });
});

describe('producer config', () => {
  it('requires a results URL and validates run ids', () => {
    expect(configError(() => loadProducerConfig({}, {})).message).toMatch(/results/);
    expect(configError(() => loadProducerConfig({ results: 'file:///r', runId: 'has space' }, {})).message).toMatch(/runId/);
    const c = loadProducerConfig({ results: 's3://b/r' }, {});
    expect(c.runId).toMatch(/^run-\d{4}-/);
    expect(c.maxBacklog).toBe(100_000);
  });
});

describe('boolean environment values', () => {
  it('reads FACEFLEET_ALLOW_CPU_FALLBACK=false as false', () => {
    expect(loadWorkerConfig({}, { FACEFLEET_ALLOW_CPU_FALLBACK: 'false' }).allowCpuFallback).toBe(false);
    expect(loadWorkerConfig({}, { FACEFLEET_ALLOW_CPU_FALLBACK: 'true' }).allowCpuFallback).toBe(true);
    expect(loadWorkerConfig({ allowCpuFallback: true }, { FACEFLEET_ALLOW_CPU_FALLBACK: 'false' }).allowCpuFallback).toBe(true);
  });
});

describe('where a value came from', () => {
  it('names the flag, the variable, or the default, whichever the bad value came from', () => {
    expect(configError(() => loadWorkerConfig({ providers: 'gpu' }, { FACEFLEET_PROVIDERS: 'cpu' })).message).toMatch(/providers \(--providers\): .* given "gpu"/);
    const fromEnv = configError(() => loadWorkerConfig({}, { FACEFLEET_PROVIDERS: 'gpu' })).message;
    expect(fromEnv).toMatch(/providers \(env FACEFLEET_PROVIDERS\): .* given "gpu"/);
    expect(fromEnv).not.toContain('--providers');
    // Checks across fields name each side's own source.
    const order = configError(() => loadServeConfig({}, { FACEFLEET_SERVE_REQUEST_TIMEOUT_MS: '4000' })).message;
    expect(order).toMatch(/requestTimeoutMs \(env FACEFLEET_SERVE_REQUEST_TIMEOUT_MS\): expected more than queueTimeoutMs \(5000, default\)/);
    expect(configError(() => loadServeConfig({ queueTimeoutMs: '70000' }, {})).message).toMatch(/requestTimeoutMs \(default\): expected more than queueTimeoutMs \(70000, --queue-timeout-ms\)/);
  });

  it('says how to give a required option that was not given', () => {
    expect(configError(() => loadProducerConfig({}, {})).message).toMatch(/results \(--results or env FACEFLEET_RESULTS\): required; given nothing/);
    expect(loadProducerConfig({}, { FACEFLEET_RESULTS: 's3://b/r' }).results).toBe('s3://b/r');
  });

  it('keeps the source of every field beside the config, for errors found later (a port in use)', () => {
    const c = loadWorkerConfig({ batch: '4' }, { FACEFLEET_METRICS_PORT: '9000' });
    expect(fieldLabel(c, 'metricsPort')).toBe('metricsPort (env FACEFLEET_METRICS_PORT)');
    expect(fieldLabel(c, 'batch')).toBe('batch (--batch)');
    expect(fieldLabel(c, 'queue')).toBe('queue (default)');
    expect(fieldLabel(loadServeConfig({ port: '0' }, {}), 'port')).toBe('port (--port)');
  });

  it('reads options without a flag from the environment only', () => {
    expect(loadServeConfig({ apiToken: 'from-a-flag-0123456789' }, {}).apiToken).toBeUndefined();
  });
});

describe('options once read outside the config', () => {
  it('forceIncremental: --force-incremental or FACEFLEET_FORCE_INCREMENTAL, off by default', () => {
    expect(loadWorkerConfig({}, {}).forceIncremental).toBe(false);
    expect(loadWorkerConfig({ forceIncremental: true }, {}).forceIncremental).toBe(true);
    expect(loadWorkerConfig({}, { FACEFLEET_FORCE_INCREMENTAL: 'true' }).forceIncremental).toBe(true);
    expect(configError(() => loadWorkerConfig({}, { FACEFLEET_FORCE_INCREMENTAL: 'maybe' })).message).toMatch(/forceIncremental \(env FACEFLEET_FORCE_INCREMENTAL\): expected a boolean/);
  });

  it('logLevel: --log-level or FACEFLEET_LOG_LEVEL, a pino level; the demo is quieter by default', () => {
    expect(loadWorkerConfig({}, {}).logLevel).toBe('info');
    expect(loadServeConfig({}, { FACEFLEET_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(loadWorkerConfig({ logLevel: 'warn' }, { FACEFLEET_LOG_LEVEL: 'debug' }).logLevel).toBe('warn');
    expect(configError(() => loadWorkerConfig({}, { FACEFLEET_LOG_LEVEL: 'loud' })).message).toMatch(/logLevel \(env FACEFLEET_LOG_LEVEL\): .*"info".* given "loud"/);
    expect(loadDemoConfig({}, {}).logLevel).toBe('error');
    expect(loadDemoConfig({}, { FACEFLEET_LOG_LEVEL: 'info' }).logLevel).toBe('info');
  });

  it('commands that only read the queue ignore the variables of options they do not take', () => {
    const env = { FACEFLEET_BATCH: '0', FACEFLEET_QUEUE: 'q1' };
    expect(() => loadWorkerConfig({}, env)).toThrow(/batch/);
    expect(loadRunsConfig({}, env)).toMatchObject({ queue: 'q1', limit: 20, json: false });
    expect(loadFailedConfig('export', { out: '/tmp/x.jsonl' }, env)).toMatchObject({ queue: 'q1', out: '/tmp/x.jsonl' });
    expect(configError(() => loadRunsConfig({ limit: '0' }, {})).message).toMatch(/limit \(--limit\)/);
  });

  it('enqueue: --model is validated like the worker\'s, from the flag or FACEFLEET_MODEL', () => {
    expect(configError(() => loadProducerConfig({ results: 's3://b/r', model: 'yolo' }, {})).message).toMatch(/model \(--model\): .*retinaface/);
    expect(configError(() => loadProducerConfig({ results: 's3://b/r' }, { FACEFLEET_MODEL: 'yolo' })).message).toMatch(/model \(env FACEFLEET_MODEL\)/);
  });
});
