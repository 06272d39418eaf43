import { DEFAULT_EXECUTION_MODE, ExecutionMode } from '../../src/inference/session-options';
import type { Quantiles } from './stats';
import { ratio } from './stats';

/** How a session schedules the graph: the execution mode and, for `parallel`, the size of its inter-op pool. */
export interface ExecutionSetting {
  mode: ExecutionMode;
  /** Inter-op threads; 0 lets onnxruntime decide. Always 1 for `sequential`, which has no inter-op pool. */
  interOpThreads: number;
}

/** One point of the inference grid: what a session is started with, and the images per `session.run`. */
export interface InferenceSetting extends ExecutionSetting {
  /** Images per `session.run`. */
  batch: number;
  /** Intra-op threads; 0 lets onnxruntime decide. */
  intraOpThreads: number;
}

/** What one row of the grid measured. */
export interface InferenceRow extends InferenceSetting {
  /** Images (canvases) run per second of wall time. */
  imagesPerSecond: number;
  /** Images run in the measured window. */
  images: number;
  /** Wall time of the measured window, s. */
  seconds: number;
  /** CPU time of the whole process (every thread) per image, ms; `null` when no image ran. */
  cpuMsPerImage: number | null;
  /** Wall time of one `session.run` inside the inference thread, p50/p95, ms. */
  runMs: Quantiles | null;
  /** Share (0–1) of the machine's CPU other processes used during the row; `null` without procfs. */
  contention: number | null;
  /** With several rounds: each round's images/s and CPU per image, in order (the row's own figures are the median round's). */
  rounds?: Array<{ imagesPerSecond: number; cpuMsPerImage: number | null }>;
}

/** The rows the grid points at, by index into its rows; `null` when no row qualifies. */
export interface InferenceChoice {
  /** The least CPU per image (ties: the higher images/s). */
  cheapest: number | null;
  /** The most images/s (ties: the less CPU per image). */
  fastest: number | null;
  /** The row run with the product's defaults; `null` when the grid does not hold them. */
  product: number | null;
  /** The product's CPU per image over the cheapest's (1 = the product is the cheapest). */
  productCpuVsCheapest: number | null;
  /** The product's images/s over the fastest's (1 = the product is the fastest). */
  productRateVsFastest: number | null;
}

/** The inference grid as the report carries it (`inference` in `--json`). */
export interface InferenceGridReport {
  model: string;
  canvas: { width: number; height: number };
  /** Logical CPUs of the machine. */
  cores: number;
  /** Measured time per row, s. */
  seconds: number;
  /** Times the grid ran, interleaved; each row is its median round. */
  rounds: number;
  /** Whether onnxruntime's pool threads spun (`--ort-allow-spinning`), the same in every row. */
  allowSpinning: boolean;
  /** The settings a worker runs with when no option names them. */
  productDefaults: InferenceSetting;
  rows: InferenceRow[];
  choice: InferenceChoice;
}

/**
 * Reads one item of `--execution-modes`: `sequential`, or `parallel:N` (N inter-op threads, 0 for
 * onnxruntime's choice; `parallel` alone is `parallel:0`). `null` for anything else.
 */
export function parseExecution(item: string): ExecutionSetting | null {
  const s = item.trim().toLowerCase();
  if (s === 'sequential') return { mode: 'sequential', interOpThreads: 1 };
  const m = /^parallel(?::(\d{1,3}))?$/.exec(s);
  if (!m) return null;
  const n = m[1] === undefined ? 0 : Number(m[1]);
  return n <= 256 ? { mode: 'parallel', interOpThreads: n } : null;
}

/** An execution setting as `--execution-modes` spells it. */
export function executionName(e: ExecutionSetting): string {
  return e.mode === 'sequential' ? 'sequential' : `parallel:${e.interOpThreads}`;
}

/** The intra-op threads of the grid when none are given: 1, every core, and onnxruntime's choice (0). */
export function defaultIntraOpThreads(cores: number): number[] {
  return [...new Set([1, Math.max(1, cores), 0])];
}

/** Settings that start the same session (everything but the batch) share this key. */
export function sessionKey(s: InferenceSetting): string {
  return `${s.intraOpThreads}/${executionName(s)}`;
}

/**
 * The grid: every intra-op count × every execution setting × every batch size, duplicates dropped,
 * ordered so that the rows of one session are adjacent (one session is started per key, not per row).
 */
export function inferenceGrid(batches: readonly number[], intraOpThreads: readonly number[], executions: readonly ExecutionSetting[]): InferenceSetting[] {
  const out: InferenceSetting[] = [];
  const seen = new Set<string>();
  for (const intra of intraOpThreads) {
    for (const e of executions) {
      for (const batch of batches) {
        const s: InferenceSetting = { batch, intraOpThreads: intra, mode: e.mode, interOpThreads: e.mode === 'sequential' ? 1 : e.interOpThreads };
        const key = `${sessionKey(s)}/${batch}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(s);
      }
    }
  }
  return out;
}

/**
 * The settings a worker runs with today: the model options' batch (1 per run when the graph's batch
 * axis is fixed) and intra-op threads, the session's default execution mode, and the one inter-op
 * thread `loadModel` starts every session with.
 */
export function productSetting(defaults: { batch: number; threads: number }, dynamicBatch: boolean): InferenceSetting {
  return { batch: dynamicBatch ? defaults.batch : 1, intraOpThreads: defaults.threads, mode: DEFAULT_EXECUTION_MODE, interOpThreads: 1 };
}

/** Whether two settings start the same session and run the same batch (inter-op threads matter only in parallel mode). */
export function sameSetting(a: InferenceSetting, b: InferenceSetting): boolean {
  return a.batch === b.batch && a.intraOpThreads === b.intraOpThreads && a.mode === b.mode && (a.mode === 'sequential' || a.interOpThreads === b.interOpThreads);
}

/**
 * One row out of the rounds of the same setting: the round with the median CPU per image (rounds
 * without a reading last), whole, so its figures stay consistent with each other; with more than one
 * round, every round's images/s and CPU per image are kept beside it.
 */
export function medianRound(rounds: readonly InferenceRow[]): InferenceRow {
  if (rounds.length === 0) throw new RangeError('medianRound: no rounds');
  const sorted = [...rounds].sort((a, b) => (a.cpuMsPerImage ?? Infinity) - (b.cpuMsPerImage ?? Infinity));
  const { rounds: _, ...median } = sorted[Math.floor((sorted.length - 1) / 2)];
  return rounds.length === 1 ? median : { ...median, rounds: rounds.map((r) => ({ imagesPerSecond: r.imagesPerSecond, cpuMsPerImage: r.cpuMsPerImage })) };
}

/** Picks the cheapest and the fastest row and places the product's defaults against them. */
export function chooseInference(rows: readonly InferenceRow[], product: InferenceSetting): InferenceChoice {
  let cheapest: number | null = null;
  let fastest: number | null = null;
  rows.forEach((r, i) => {
    if (r.images <= 0) return;
    if (r.cpuMsPerImage !== null) {
      const c = cheapest === null ? null : rows[cheapest];
      if (c === null || r.cpuMsPerImage < c.cpuMsPerImage! || (r.cpuMsPerImage === c.cpuMsPerImage && r.imagesPerSecond > c.imagesPerSecond)) cheapest = i;
    }
    const f = fastest === null ? null : rows[fastest];
    if (f === null || r.imagesPerSecond > f.imagesPerSecond || (r.imagesPerSecond === f.imagesPerSecond && (r.cpuMsPerImage ?? Infinity) < (f.cpuMsPerImage ?? Infinity))) fastest = i;
  });
  const found = rows.findIndex((r) => sameSetting(r, product));
  const p = found === -1 ? null : rows[found];
  return {
    cheapest,
    fastest,
    product: found === -1 ? null : found,
    productCpuVsCheapest: p && cheapest !== null ? ratio(p.cpuMsPerImage, rows[cheapest].cpuMsPerImage) : null,
    productRateVsFastest: p && fastest !== null ? ratio(p.imagesPerSecond, rows[fastest].imagesPerSecond) : null,
  };
}

/** A setting in words: `batch 8, intra-op 0 (onnxruntime decides), sequential`. */
export function describeSetting(s: InferenceSetting): string {
  const intra = s.intraOpThreads === 0 ? '0 (onnxruntime decides)' : String(s.intraOpThreads);
  const exec = s.mode === 'sequential' ? 'sequential' : `parallel with ${s.interOpThreads === 0 ? "onnxruntime's choice of" : s.interOpThreads} inter-op thread${s.interOpThreads === 1 ? '' : 's'}`;
  return `batch ${s.batch}, intra-op ${intra}, ${exec}`;
}

/** The grid as text: one row per setting with its marks, then the cheapest, the fastest and the product's defaults against them. */
export function formatInferenceGrid(g: InferenceGridReport): string[] {
  const { rows, choice } = g;
  const out = [
    `inference (${g.model}, ${g.canvas.width}×${g.canvas.height}, CPU): session.run on tensors packed once, through the inference thread, two runs in flight, ${g.seconds} s per row${g.rounds > 1 ? ` (median of ${g.rounds} rounds by CPU)` : ''}, ${g.cores} cores${g.allowSpinning ? ', pool threads spinning' : ''}; an image is one canvas, CPU is the whole process's`,
  ];
  const cheapestCpu = choice.cheapest === null ? null : rows[choice.cheapest].cpuMsPerImage;
  const table: string[][] = [['batch', 'intra-op', 'execution', 'images/s', 'CPU ms/image', 'vs cheapest', 'wall ms/batch', 'other load', '']];
  rows.forEach((r, i) => {
    const marks = [i === choice.cheapest ? 'cheapest' : '', i === choice.fastest ? 'fastest' : '', i === choice.product ? 'defaults' : ''].filter(Boolean).join(', ');
    table.push([
      String(r.batch),
      r.intraOpThreads === 0 ? '0 (auto)' : String(r.intraOpThreads),
      executionName(r),
      fmt(r.imagesPerSecond),
      fmt(r.cpuMsPerImage),
      fmt(ratio(r.cpuMsPerImage, cheapestCpu)),
      fmt(r.runMs?.p50),
      r.contention === null ? '-' : `${Math.round(r.contention * 100)}%`,
      marks ? `← ${marks}` : '',
    ]);
  });
  out.push(...align(table));
  const line = (label: string, i: number | null) => {
    if (i === null) return;
    const r = rows[i];
    out.push(`${label}: ${describeSetting(r)}: ${fmt(r.cpuMsPerImage)} CPU ms/image, ${fmt(r.imagesPerSecond)} images/s`);
  };
  line('cheapest CPU per image', choice.cheapest);
  line('fastest', choice.fastest);
  if (choice.product === null) {
    out.push(`product defaults (${describeSetting(g.productDefaults)}): not in this grid`);
  } else {
    const r = rows[choice.product];
    out.push(
      `product defaults (${describeSetting(g.productDefaults)}): ${fmt(r.cpuMsPerImage)} CPU ms/image, ${fmt(choice.productCpuVsCheapest)} × the cheapest; ${fmt(r.imagesPerSecond)} images/s, ${fmt(choice.productRateVsFastest)} × the fastest`,
    );
  }
  return out;
}

function align(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i <= 2 || i === r.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd());
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}
