import { ChildProcess, execFile, spawn } from 'node:child_process';
import readline from 'node:readline';

/**
 * The fields sampled, in nvidia-smi's `--query-gpu` names and in this order: when the sample was taken
 * (local time, `YYYY/MM/DD HH:MM:SS.mmm`: samples are placed in measurements by it, so output that
 * nvidia-smi buffers on its pipe still lands where it belongs), the device index (a machine with
 * several GPUs reports each), utilisation (%: the share of the sample period in which a kernel ran),
 * memory used and total (MiB). With `--format=csv,noheader,nounits` nvidia-smi prints one line per GPU
 * per sample, the values separated by `, ` (`2024/05/01 12:34:56.789, 0, 87, 5120, 23028`), and
 * `[N/A]` or `[Not Supported]` for a value the device does not report.
 */
export const SAMPLE_FIELDS = ['timestamp', 'index', 'utilization.gpu', 'memory.used', 'memory.total'] as const;

/** The fields of the one-time device listing: index, product name, total memory (MiB), driver version. */
export const DEVICE_FIELDS = ['index', 'name', 'memory.total', 'driver_version'] as const;

/** How often nvidia-smi samples during the benchmark, ms (`-lms`). */
export const SAMPLE_INTERVAL_MS = 500;

/** One GPU as nvidia-smi lists it. */
export interface GpuDevice {
  index: number;
  name: string;
  /** MiB; null when not reported. */
  memoryTotalMiB: number | null;
  driver: string;
}

/** One sample of one GPU. */
export interface GpuSample {
  /** When nvidia-smi took it, ms since the epoch. */
  at: number;
  index: number;
  /** %; null when the device does not report it. */
  utilisation: number | null;
  /** MiB; null when not reported. */
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
}

/** A value of nvidia-smi's CSV: a number, or null for `[N/A]`, `[Not Supported]` and the like. */
function numberField(text: string | undefined): number | null {
  const t = (text ?? '').trim();
  if (t === '' || t.startsWith('[')) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** The fields of one CSV line (`, `-separated; values never contain a comma except a product name, which is kept whole). */
function fields(line: string, count: number): string[] | null {
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length < count) return null;
  return parts;
}

/** nvidia-smi's `timestamp` (`2024/05/01 12:34:56.789`, local time) in ms since the epoch; null if it is not one. */
export function parseTimestamp(text: string): number | null {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const at = new Date(y, mo - 1, d, h, mi, sec, ms).getTime();
  return Number.isFinite(at) ? at : null;
}

/**
 * One line of `nvidia-smi --query-gpu=timestamp,index,utilization.gpu,memory.used,memory.total
 * --format=csv,noheader,nounits`; null for a line that is not such a sample (a blank line, an error
 * message).
 */
export function parseSampleLine(line: string): GpuSample | null {
  const parts = fields(line, SAMPLE_FIELDS.length);
  if (!parts || parts.length !== SAMPLE_FIELDS.length) return null;
  const at = parseTimestamp(parts[0]);
  const index = numberField(parts[1]);
  if (at === null || index === null || !Number.isInteger(index)) return null;
  return { at, index, utilisation: numberField(parts[2]), memoryUsedMiB: numberField(parts[3]), memoryTotalMiB: numberField(parts[4]) };
}

/** One line of `nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader,nounits`. */
export function parseDeviceLine(line: string): GpuDevice | null {
  const parts = fields(line, DEVICE_FIELDS.length);
  if (!parts) return null;
  const index = numberField(parts[0]);
  if (index === null || !Number.isInteger(index)) return null;
  // A product name with a comma in it would have split: the last two fields are always memory and driver.
  const driver = parts[parts.length - 1];
  const memoryTotalMiB = numberField(parts[parts.length - 2]);
  const name = parts.slice(1, parts.length - 2).join(', ');
  return { index, name, memoryTotalMiB, driver };
}

/** Mean and peak of a list of numbers; null when it is empty. */
function meanPeak(values: number[]): { mean: number; peak: number } | null {
  if (values.length === 0) return null;
  return { mean: Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10, peak: Math.max(...values) };
}

/** What one GPU did during one measurement. */
export interface GpuDeviceSummary {
  index: number;
  samples: number;
  /** Utilisation, %; null when the device reported none. */
  utilisation: { mean: number; peak: number } | null;
  /** Memory used, MiB, and the device's total; null when the device reported none. */
  memoryMiB: { mean: number; peak: number; total: number | null } | null;
}

/** Mean and peak utilisation and memory of each GPU over `samples`, in device order. */
export function summariseSamples(samples: readonly GpuSample[]): GpuDeviceSummary[] {
  const byDevice = new Map<number, GpuSample[]>();
  for (const s of samples) byDevice.set(s.index, [...(byDevice.get(s.index) ?? []), s]);
  return [...byDevice.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, list]) => {
      const memory = meanPeak(list.flatMap((s) => (s.memoryUsedMiB === null ? [] : [s.memoryUsedMiB])));
      const total = list.find((s) => s.memoryTotalMiB !== null)?.memoryTotalMiB ?? null;
      return {
        index,
        samples: list.length,
        utilisation: meanPeak(list.flatMap((s) => (s.utilisation === null ? [] : [s.utilisation]))),
        memoryMiB: memory && { ...memory, total },
      };
    });
}

/** A source of GPU samples: nvidia-smi, or a list of samples in tests. */
export interface SampleSource {
  /** Every sample read so far (all of them once {@link stop} has resolved). */
  readonly samples: readonly GpuSample[];
  /** The clock the samples' `at` uses: ms since the epoch. */
  now(): number;
  /** Stops sampling and reads what is left of the output. Idempotent. */
  stop(): Promise<void>;
}

/** The GPU figures of a benchmark run, for the report. */
export interface GpuReport {
  /** True when a GPU provider was asked for (`--providers cuda`): only then does an absent GPU say so. */
  wanted: boolean;
  /** Why there are no figures: nvidia-smi not found, failing, or listing no GPU. Unset when sampled. */
  absent?: string;
  /** The GPUs nvidia-smi lists. */
  devices: GpuDevice[];
  /** Sampling interval, ms. */
  intervalMs: number;
  /** Each measurement sampled, in the order first taken: the set, the measurement, each GPU over all its rounds. */
  phases: Array<{ set: string; phase: string; devices: GpuDeviceSummary[] }>;
}

/**
 * GPU utilisation and memory per measurement of the benchmark. {@link during} brackets one
 * measurement and notes when it ran, under its set and name (every round of it together);
 * {@link report}, after {@link stop}, summarises the samples taken in those times. Without a source
 * (no nvidia-smi) it measures nothing and reports why.
 */
export class GpuPhases {
  private readonly windows = new Map<string, { set: string; phase: string; spans: Array<[number, number]> }>();

  constructor(
    private readonly source: SampleSource | null,
    private readonly info: { wanted: boolean; devices: GpuDevice[]; absent?: string; intervalMs?: number },
  ) {}

  /** Samples with nvidia-smi when it runs and lists a GPU; else a {@link GpuPhases} that says why not. */
  static async start(wanted: boolean, command = 'nvidia-smi', intervalMs = SAMPLE_INTERVAL_MS): Promise<GpuPhases> {
    const found = await listGpus(command);
    if ('absent' in found) return new GpuPhases(null, { wanted, devices: [], absent: found.absent });
    return new GpuPhases(sampleWithNvidiaSmi(command, intervalMs), { wanted, devices: found.devices, intervalMs });
  }

  /** Runs one measurement and notes when it ran, under `set` and `phase`. */
  async during<T>(set: string, phase: string, run: () => Promise<T>): Promise<T> {
    if (!this.source) return run();
    const t0 = this.source.now();
    try {
      return await run();
    } finally {
      const key = `${set}\n${phase}`;
      const window = this.windows.get(key) ?? { set, phase, spans: [] };
      window.spans.push([t0, this.source.now()]);
      this.windows.set(key, window);
    }
  }

  /** Stops sampling. Idempotent. */
  stop(): Promise<void> {
    return this.source?.stop() ?? Promise.resolve();
  }

  /** The figures for the report: call after {@link stop}, when every sample has been read. */
  report(): GpuReport {
    const samples = this.source?.samples ?? [];
    return {
      wanted: this.info.wanted,
      ...(this.info.absent !== undefined ? { absent: this.info.absent } : {}),
      devices: this.info.devices,
      intervalMs: this.info.intervalMs ?? SAMPLE_INTERVAL_MS,
      phases: [...this.windows.values()].map((w) => ({
        set: w.set,
        phase: w.phase,
        devices: summariseSamples(samples.filter((s) => w.spans.some(([t0, t1]) => s.at >= t0 && s.at <= t1))),
      })),
    };
  }
}

/** Runs nvidia-smi once to list the GPUs; says why not when it is missing, fails or lists none. */
export function listGpus(command = 'nvidia-smi'): Promise<{ devices: GpuDevice[] } | { absent: string }> {
  return new Promise((resolve) => {
    execFile(command, [`--query-gpu=${DEVICE_FIELDS.join(',')}`, '--format=csv,noheader,nounits'], { timeout: 15_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve({ absent: `${command} not found` });
      if (err) {
        const said = `${stdout}\n${stderr}`.split('\n').map((l) => l.trim()).find((l) => l !== '');
        return resolve({ absent: `${command} failed${said ? `: ${said}` : ''}` });
      }
      const devices = stdout.split('\n').map(parseDeviceLine).filter((d): d is GpuDevice => d !== null);
      resolve(devices.length > 0 ? { devices } : { absent: `${command} lists no GPU` });
    });
  });
}

/** nvidia-smi sampling every `intervalMs` (`-lms`) until stopped; lines it cannot parse are ignored. */
export function sampleWithNvidiaSmi(command = 'nvidia-smi', intervalMs = SAMPLE_INTERVAL_MS): SampleSource {
  const samples: GpuSample[] = [];
  const child: ChildProcess = spawn(command, [`--query-gpu=${SAMPLE_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(intervalMs)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = readline.createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    const sample = parseSampleLine(line);
    if (sample) samples.push(sample);
  });
  // Done when the output is read to its end (what nvidia-smi buffered comes out as it exits), or it never started.
  const exited = new Promise<void>((resolve) => {
    lines.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  return {
    samples,
    now: () => Date.now(),
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        timer.unref();
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * The report's GPU lines: the devices and a table of utilisation and memory per measurement. Nothing
 * when no GPU was found, unless a GPU provider was asked for: then one line saying none was found.
 */
export function formatGpuReport(gpu: GpuReport | null | undefined): string[] {
  if (!gpu) return [];
  if (gpu.absent !== undefined) return gpu.wanted ? [`GPU: none found (${gpu.absent}); no GPU utilisation measured`] : [];
  const mib = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${Math.round(v).toLocaleString('en-US')} MiB`);
  const out = gpu.devices.map((d) => `GPU ${d.index}: ${d.name}, ${mib(d.memoryTotalMiB)}, driver ${d.driver}`);
  if (gpu.phases.length === 0) return out;
  const several = gpu.devices.length > 1;
  const rows: string[][] = [['set', 'measurement', ...(several ? ['GPU'] : []), 'samples', 'util mean', 'util peak', 'memory mean', 'memory peak']];
  for (const p of gpu.phases) {
    for (const d of p.devices) {
      const pct = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)}%`);
      rows.push([p.set, p.phase, ...(several ? [String(d.index)] : []), String(d.samples), pct(d.utilisation?.mean), pct(d.utilisation?.peak), mib(d.memoryMiB?.mean), mib(d.memoryMiB?.peak)]);
    }
    if (p.devices.length === 0) rows.push([p.set, p.phase, ...(several ? ['-'] : []), '0', '-', '-', '-', '-']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  out.push(`GPU utilisation and memory per measurement (nvidia-smi every ${gpu.intervalMs} ms; memory is the device's, every process on it):`);
  out.push(...rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')));
  return out;
}
