import os from 'node:os';
import type { Redis } from 'ioredis';
import { readProc } from '../harness/proc-memory';

/** Linux reports `/proc/<pid>/stat` times in USER_HZ ticks, 100 per second on every common build. */
const TICKS_PER_SECOND = 100;

/**
 * User + system CPU time of a process (all its threads) from `/proc/<pid>/stat`, ms; `null` when the
 * process is gone or there is no procfs.
 */
export function procCpuMs(pid: number): number | null {
  const text = readProc(`${pid}/stat`);
  if (text === null) return null;
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

/**
 * CPU time every process of the machine has used since boot (`/proc/stat`: user, nice, system, irq,
 * softirq and steal), ms; `null` without procfs.
 */
export function machineBusyMs(): number | null {
  const line = readProc('stat')?.split('\n', 1)[0];
  if (line === undefined) return null;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + (steal || 0);
  return Number.isFinite(busy) ? (busy * 1000) / TICKS_PER_SECOND : null;
}

/**
 * Measures how much of the machine other processes used while a measurement ran: the machine's busy
 * CPU time minus the measured processes' own, as a share (0–1) of `cores × wall time`. Figures taken
 * under contention are not the machine's; the report shows this next to every measurement.
 */
export class ContentionMeter {
  private busy = new CpuMeter(async () => machineBusyMs());
  private mine: CpuMeter;
  private t0 = 0;

  /** @param mine - total CPU ms of the processes being measured now, or `null` when unreadable. */
  constructor(mine: () => Promise<number | null>) {
    this.mine = new CpuMeter(mine);
  }

  async begin(): Promise<void> {
    await this.mine.begin();
    await this.busy.begin();
    this.t0 = performance.now();
  }

  /** Share of the machine's CPU other processes used since {@link begin}; `null` when unreadable. */
  async share(): Promise<number | null> {
    const wallMs = performance.now() - this.t0;
    const busy = await this.busy.elapsed();
    const mine = await this.mine.elapsed();
    if (busy === null || mine === null || wallMs <= 0) return null;
    const share = (busy - mine) / (wallMs * os.cpus().length);
    return Math.round(Math.min(1, Math.max(0, share)) * 100) / 100;
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
