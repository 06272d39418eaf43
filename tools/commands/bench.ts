import { loadBenchOptions } from '../bench/bench-options';
import { formatReport } from '../bench/bench-report';
import { StreamProgress } from '../bench/progress';
import { runBench } from '../bench/run-bench';

/**
 * `facefleet bench`: validates the flags, runs the benchmark with progress on stderr, and prints the
 * report on stdout (text, or one JSON object with `--json`). Resolves with the exit code: 0 whenever
 * the benchmark completed, whatever the figures — targets are reported, never enforced.
 */
export async function run(flags: Record<string, unknown>): Promise<number> {
  const options = loadBenchOptions(flags);
  const report = await runBench(options, new StreamProgress(process.stderr));
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return 0;
}
