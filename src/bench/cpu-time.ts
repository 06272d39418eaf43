import fs from 'node:fs';
import type { Redis } from 'ioredis';

/** Linux reports `/proc/<pid>/stat` times in USER_HZ ticks, 100 per second on every common build. */
const TICKS_PER_SECOND = 100;

/**
 * User + system CPU time of a process (all its threads) from `/proc/<pid>/stat`, ms; `null` when the
 * process is gone or there is no procfs.
 */
export function procCpuMs(pid: number): number | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / TICKS_PER_SECOND : null;
}

/** This process's user + system CPU time (every thread: libuv pool, inference thread), ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time the Redis server has used (`INFO cpu`: main thread and children), ms; `null` if unreadable. */
export async function redisCpuMs(redis: Redis): Promise<number | null> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  const total = field('used_cpu_sys') + field('used_cpu_user');
  return Number.isFinite(total) ? total * 1000 : null;
}

/** A CPU clock over several sources (this process, child processes, Redis): read, then read the delta. */
export class CpuMeter {
  private start = 0;

  /** @param read - total CPU ms of every source now, or `null` when one cannot be read. */
  constructor(private readonly read: () => Promise<number | null>) {}

  /** Starts (or restarts) the clock. */
  async begin(): Promise<void> {
    this.start = (await this.read()) ?? Number.NaN;
  }

  /** CPU ms used since {@link begin}; `null` when a source could not be read. */
  async elapsed(): Promise<number | null> {
    const now = await this.read();
    const ms = now === null ? Number.NaN : now - this.start;
    return Number.isFinite(ms) ? ms : null;
  }
}

/** Sums readings; `null` as soon as one is `null`. */
export function sumOrNull(values: ReadonlyArray<number | null>): number | null {
  let total = 0;
  for (const v of values) {
    if (v === null) return null;
    total += v;
  }
  return total;
}
