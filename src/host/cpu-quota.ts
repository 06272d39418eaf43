import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Cores this process may use: the smaller of the cores it may run on (`os.availableParallelism()`)
 * and its container's CPU limit, read from the cgroup: v2 `cpu.max` (`<quota> <period>`), else v1
 * `cpu.cfs_quota_us` / `cpu.cfs_period_us`. A pod limited to 4 CPUs on a 64-core node gets 4, not 64:
 * Node 20's `availableParallelism` knows CPU affinity but not CPU quotas, and every count that follows
 * from it (decode slots, onnxruntime's threads, libuv's pool) would oversubscribe the quota and be
 * throttled. A fractional limit rounds down (1.5 CPUs → 1), never below 1. Reads the container's own
 * cgroup, mounted at `/sys/fs/cgroup` by Kubernetes and Docker; `root` is for tests.
 */
export function usableCores(root = '/sys/fs/cgroup'): number {
  const cores = os.availableParallelism();
  const quota = cgroupCpuLimit(root);
  return quota === null ? cores : Math.max(1, Math.min(cores, Math.floor(quota)));
}

/** The cgroup's CPU limit in CPUs (quota ÷ period), `null` when there is none or nothing is readable. */
export function cgroupCpuLimit(root = '/sys/fs/cgroup'): number | null {
  const v2 = readText(path.join(root, 'cpu.max'));
  if (v2 !== null) {
    const [quota, period] = v2.trim().split(/\s+/);
    return limit(quota, period ?? '100000');
  }
  for (const dir of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
    const quota = readText(path.join(root, dir, 'cpu.cfs_quota_us'));
    const period = readText(path.join(root, dir, 'cpu.cfs_period_us'));
    if (quota !== null && period !== null) return limit(quota.trim(), period.trim());
  }
  return null;
}

function limit(quota: string, period: string): number | null {
  if (quota === 'max') return null;
  const q = Number(quota);
  const p = Number(period);
  // v1 says "no limit" with -1.
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : null;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
