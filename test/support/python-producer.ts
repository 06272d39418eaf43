import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import { SCRUBBED_ENV } from '../../tools/harness/facefleet-process';
import type { Prerequisite } from './prerequisites';

/** The Python the producer tests run: the one scripts/setup.sh installs BullMQ's package into. */
export const PYTHON = 'python3';

/** examples/python/enqueue.py of this checkout. */
export const ENQUEUE_PY = path.join(findRepoRoot(), 'examples', 'python', 'enqueue.py');

/** Python with the bullmq package (which brings redis-py and its Redis Cluster client), as a test prerequisite. */
export const PYTHON_BULLMQ: Prerequisite = {
  name: `${PYTHON} with the bullmq package`,
  available: spawnSync(PYTHON, ['-c', 'import bullmq, redis.asyncio.cluster'], { stdio: 'ignore' }).status === 0,
  install: `${PYTHON} -m pip install -r examples/python/requirements.txt`,
};

/** What enqueue.py prints on stdout. */
export interface PythonReport {
  runId: string;
  enqueued: number;
  duplicates: number;
  jobIds: string[];
}

/**
 * Runs enqueue.py with `args` to its end. Its environment is this process's without facefleet's
 * variables and `REDIS_URL` (so only `args` and `env` configure it), plus `env`.
 */
export function runEnqueuePy(args: readonly string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SCRUBBED_ENV.test(k)));
  return spawnSync(PYTHON, [ENQUEUE_PY, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...clean, ...env } });
}

/** Runs enqueue.py and parses its report; throws with its stderr when it exits non-zero. */
export function enqueuePy(args: readonly string[], env: Record<string, string> = {}): PythonReport {
  const run = runEnqueuePy(args, env);
  if (run.status !== 0) throw new Error(`enqueue.py exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as PythonReport;
}
