import fs from 'node:fs';

/** Resident memory of one process as the kernel reports it, MiB. */
export interface ProcMemory {
  /** `VmRSS`: resident now. */
  rssMb: number;
  /** `VmHWM`: the highest resident size since the process started. */
  hwmMb: number;
}

/**
 * A procfs file (`/proc/<pid>/status`, `/proc/stat` …) as text; `null` when the process is gone or
 * there is no procfs (other systems), so callers report "unknown" instead of failing a measurement.
 */
export function readProc(file: string): string | null {
  try {
    return fs.readFileSync(`/proc/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status` (Linux); `null` where {@link readProc} is. */
export function readProcMemory(pid: number): ProcMemory | null {
  const text = readProc(`${pid}/status`);
  if (text === null) return null;
  const kib = (field: string): number | undefined => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const rss = kib('VmRSS');
  if (rss === undefined) return null;
  const hwm = kib('VmHWM') ?? rss;
  return { rssMb: rss / 1024, hwmMb: hwm / 1024 };
}

/**
 * Samples the memory of a set of processes on a timer and keeps, per process, the highest resident
 * size seen (the larger of sampled `VmRSS` and the kernel's own `VmHWM`), so a peak between two
 * samples is not missed.
 */
export class RssSampler {
  private readonly peakMb = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  /** @param pids - processes to watch. @param intervalMs - sampling period. @defaultValue 200 */
  constructor(
    private readonly pids: readonly number[],
    private readonly intervalMs = 200,
  ) {}

  /** Starts sampling (one sample at once). */
  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Takes one sample of every process now; returns the current resident sizes by pid. */
  sample(): Map<number, ProcMemory> {
    const now = new Map<number, ProcMemory>();
    for (const pid of this.pids) {
      const m = readProcMemory(pid);
      if (!m) continue;
      now.set(pid, m);
      this.peakMb.set(pid, Math.max(this.peakMb.get(pid) ?? 0, m.rssMb, m.hwmMb));
    }
    return now;
  }

  /** The largest resident size now across the processes, MiB; `null` when none could be read. */
  currentMaxMb(): number | null {
    const values = [...this.sample().values()].map((m) => m.rssMb);
    return values.length > 0 ? Math.max(...values) : null;
  }

  /** The highest peak of any one process, MiB; `null` when none could be read. */
  peakMaxMb(): number | null {
    const values = [...this.peakMb.values()];
    return values.length > 0 ? Math.max(...values) : null;
  }

  /** Stops the timer after a last sample. */
  stop(): void {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
