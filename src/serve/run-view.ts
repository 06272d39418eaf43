import type { RunStatus } from '../queue/run-store';

/** A run as the API shows it: its record plus derived progress, state, rate and ETA. */
export interface RunView extends RunStatus {
  /** Images with an outcome (done + skipped + failed), clamped to `total`. */
  finished: number;
  /** `finished / total` in [0, 1] (0 for an empty run). */
  progress: number;
  /** `enqueuing` until the producer sealed the run, `running` until every image has an outcome, then `finished`. */
  state: 'enqueuing' | 'running' | 'finished';
  /** Images per second over the recent window, or since creation; `null` when unknown. */
  rate: number | null;
  /** Seconds until every image has an outcome at `rate`; 0 when finished, `null` when unknown. */
  etaSeconds: number | null;
}

interface Sample {
  at: number;
  finished: number;
}

/** Settings of a {@link RunRates}. */
export interface RunRatesOptions {
  /** Runs remembered (least recently seen forgotten first). @defaultValue 500 */
  maxRuns?: number;
  /** Rate window, ms. @defaultValue 60000 */
  windowMs?: number;
  /** Clock, ms. @defaultValue Date.now */
  now?: () => number;
}

/**
 * Turns run records into {@link RunView}s. The record holds counters but no timeline, so the rate is
 * measured from what this process saw on earlier reads (a sliding window per run, bounded in runs and
 * samples) and falls back to the mean since the run was created.
 */
export class RunRates {
  private readonly samples = new Map<string, Sample[]>();
  private readonly maxRuns: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(options: RunRatesOptions = {}) {
    this.maxRuns = options.maxRuns ?? 500;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The view of a run read now. */
  view(s: RunStatus): RunView {
    const finished = Math.min(s.total, s.done + s.skipped + s.failed);
    const state: RunView['state'] = !s.sealed ? 'enqueuing' : finished >= s.total ? 'finished' : 'running';
    const progress = s.total > 0 ? finished / s.total : state === 'finished' ? 1 : 0;
    const rate = state === 'finished' ? this.windowRate(s.runId, finished, false) : this.windowRate(s.runId, finished, true) ?? this.meanRate(s, finished);
    const remaining = s.total - finished;
    const etaSeconds = state === 'finished' ? 0 : rate && rate > 0 && s.sealed ? Math.round(remaining / rate) : null;
    return { ...s, finished, progress, state, rate: rate === null ? null : Math.round(rate * 100) / 100, etaSeconds };
  }

  /** Records a sample and returns the rate over the window (`null` with fewer than two samples). */
  private windowRate(runId: string, finished: number, record: boolean): number | null {
    const t = this.now();
    let list = this.samples.get(runId);
    if (list) this.samples.delete(runId);
    list ??= [];
    // Re-inserting keeps the map in least-recently-seen order for eviction.
    this.samples.set(runId, list);
    if (record) {
      list.push({ at: t, finished });
      while (list.length > 2 && t - list[1].at > this.windowMs) list.shift();
      if (list.length > 120) list.splice(0, list.length - 120);
    }
    while (this.samples.size > this.maxRuns) this.samples.delete(this.samples.keys().next().value as string);
    if (list.length < 2) return null;
    const first = list[0];
    const last = list[list.length - 1];
    const dt = (last.at - first.at) / 1000;
    return dt > 0 ? Math.max(0, (last.finished - first.finished) / dt) : null;
  }

  private meanRate(s: RunStatus, finished: number): number | null {
    const age = (this.now() - Date.parse(s.createdAt)) / 1000;
    return age > 0 && finished > 0 ? finished / age : null;
  }
}
