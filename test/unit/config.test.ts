import { loadProducerConfig } from '../../src/config/producer-config';
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
    expect(c).toMatchObject({ queue: 'facefleet', redisPrefix: 'bull', model: 'retinaface', batch: 8, maxWaitMs: 10, providers: ['cpu'], metricsPort: 9464, drainTimeoutMs: 25_000 });
    expect(c.effectiveConcurrency).toBe(24);
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
