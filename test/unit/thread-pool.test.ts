import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import { SPARE_POOL_THREADS, sizeThreadPool } from '../../src/lifecycle/thread-pool';

describe('sizeThreadPool', () => {
  it('gives libuv one thread per core and the spare ones when the operator set nothing', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(sizeThreadPool(env)).toBe(os.availableParallelism() + SPARE_POOL_THREADS);
    expect(env.UV_THREADPOOL_SIZE).toBe(String(os.availableParallelism() + SPARE_POOL_THREADS));
    expect(sizeThreadPool({ UV_THREADPOOL_SIZE: '' })).toBe(os.availableParallelism() + SPARE_POOL_THREADS);
  });

  it("keeps the operator's UV_THREADPOOL_SIZE", () => {
    const env: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: '2' };
    expect(sizeThreadPool(env)).toBe(2);
    expect(env.UV_THREADPOOL_SIZE).toBe('2');
  });

  it('is called by every entry point before the CLI runs', () => {
    const root = findRepoRoot();
    for (const entry of ['bin/facefleet.js', 'workers/worker.ts', 'producer/enqueue.ts']) {
      const text = fs.readFileSync(path.join(root, entry), 'utf8');
      const sized = text.indexOf('sizeThreadPool()');
      expect({ entry, sized: sized >= 0 }).toEqual({ entry, sized: true });
      expect({ entry, beforeMain: sized < text.lastIndexOf('main(') }).toEqual({ entry, beforeMain: true });
    }
  });
});
