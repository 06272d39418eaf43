import cliProgress from 'cli-progress';
import { RunStatus, RunStore, isRunFinished } from '../queue/run-store';

/** Options of {@link watchRun}. */
export interface WatchOptions {
  /** Draw a progress bar on stderr (off for `--json` or when stderr is not a terminal). */
  bar: boolean;
  /** Poll interval, ms. @defaultValue 250 */
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * The progress bar of commands that work through images, on stderr: percentage, count, rate
 * (`{rate}` images/s) and failures (`{failed}`), set with `start(total, 0, { rate, failed })`.
 */
export function imageProgressBar(): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      format: ' {bar} {percentage}% | {value}/{total} images | {rate}/s | ETA {eta_formatted} | failed {failed}',
      hideCursor: true,
      stream: process.stderr,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
}

/**
 * Follows a run until every enqueued image has an outcome, drawing a bar with rate and ETA
 * (cli-progress), and resolves with the final status.
 */
export async function watchRun(runs: RunStore, runId: string, options: WatchOptions): Promise<RunStatus> {
  const bar = options.bar ? imageProgressBar() : undefined;
  const started = Date.now();
  let status = await runs.get(runId);
  bar?.start(status?.total ?? 0, 0, { rate: '0', failed: 0 });
  for (;;) {
    status = await runs.get(runId);
    if (status) {
      const finished = Math.min(status.total, status.done + status.skipped + status.failed);
      const rate = finished / Math.max(0.001, (Date.now() - started) / 1000);
      bar?.setTotal(status.total);
      bar?.update(finished, { rate: rate.toFixed(1), failed: status.failed });
      if (isRunFinished(status)) break;
    }
    if (options.signal?.aborted) break;
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
  bar?.stop();
  if (!status) throw new Error(`run ${runId} does not exist`);
  return status;
}
