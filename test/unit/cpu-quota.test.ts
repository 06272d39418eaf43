import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupCpuLimit, usableCores } from '../../src/host/cpu-quota';

describe("usable cores: CPU affinity and the container's CPU limit", () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-cgroup-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };

  it('reads a cgroup v2 limit (cpu.max: quota and period)', () => {
    write('cpu.max', '200000 100000\n');
    expect(cgroupCpuLimit(root)).toBe(2);
    expect(usableCores(root)).toBe(Math.min(2, os.availableParallelism()));
  });

  it('has no limit at "max", and counts every core then', () => {
    write('cpu.max', 'max 100000\n');
    expect(cgroupCpuLimit(root)).toBeNull();
    expect(usableCores(root)).toBe(os.availableParallelism());
  });

  it('reads a cgroup v1 limit (cfs quota and period), under either controller folder name', () => {
    write('cpu,cpuacct/cpu.cfs_quota_us', '150000\n');
    write('cpu,cpuacct/cpu.cfs_period_us', '100000\n');
    expect(cgroupCpuLimit(root)).toBe(1.5);
    // 1.5 CPUs round down: a second busy thread would be throttled.
    expect(usableCores(root)).toBe(1);
  });

  it('treats v1 quota -1 as no limit', () => {
    write('cpu/cpu.cfs_quota_us', '-1\n');
    write('cpu/cpu.cfs_period_us', '100000\n');
    expect(cgroupCpuLimit(root)).toBeNull();
  });

  it('never goes below one core, nor above the cores it may run on', () => {
    write('cpu.max', '10000 100000\n');
    expect(usableCores(root)).toBe(1);
    write('cpu.max', `${(os.availableParallelism() + 8) * 100000} 100000\n`);
    expect(usableCores(root)).toBe(os.availableParallelism());
  });

  it('has no limit where nothing is readable, or the file is nonsense', () => {
    expect(cgroupCpuLimit(path.join(root, 'missing'))).toBeNull();
    write('cpu.max', 'garbage\n');
    expect(cgroupCpuLimit(root)).toBeNull();
  });
});
