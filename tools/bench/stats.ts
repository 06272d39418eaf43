/** The middle and the tail of a set of durations. */
export interface Quantiles {
  /** Median, ms. */
  p50: number;
  /** 95th percentile, ms. */
  p95: number;
  /** Samples the figures come from. */
  n: number;
}

/**
 * The `p`-quantile (0–1) of ascending `sorted` by the nearest-rank method: the smallest sample with
 * at least `p` of the samples at or below it. `NaN` for no samples.
 */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** p50 and p95 of unsorted samples, rounded to 0.01 ms; `null` when there are none. */
export function quantiles(samples: readonly number[]): Quantiles | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: round2(quantile(sorted, 0.5)), p95: round2(quantile(sorted, 0.95)), n: sorted.length };
}

/** Arithmetic mean; `null` for no samples. */
export function mean(samples: readonly number[]): number | null {
  if (samples.length === 0) return null;
  return samples.reduce((a, b) => a + b, 0) / samples.length;
}

/** Median of unsorted values; `null` for none. */
export function median(values: readonly number[]): number | null {
  return values.length === 0 ? null : quantile([...values].sort((a, b) => a - b), 0.5);
}

/**
 * Durations grouped by stage name (`decode`, `inference`, …), kept in insertion order so reports list
 * stages as the pipeline runs them.
 */
export class StageSamples {
  private readonly stages = new Map<string, number[]>();

  /** Records one duration of `stage`, ms. */
  add(stage: string, ms: number): void {
    let list = this.stages.get(stage);
    if (!list) this.stages.set(stage, (list = []));
    list.push(ms);
  }

  /** Every stage with its p50 and p95. */
  summary(): Record<string, Quantiles> {
    const out: Record<string, Quantiles> = {};
    for (const [stage, list] of this.stages) {
      const q = quantiles(list);
      if (q) out[stage] = q;
    }
    return out;
  }
}

/** `a / b` rounded to 0.001, or `null` when either side is missing or `b` is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return Math.round((a / b) * 1000) / 1000;
}

/** Rounds to 0.01. */
export function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Rounds to 0.1. */
export function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
