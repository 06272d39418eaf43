import { loadChaosOptions } from '../chaos/chaos-options';
import { chaosJson, formatChaosTable } from '../chaos/chaos-report';
import { runChaos } from '../chaos/run-chaos';

/**
 * `facefleet chaos`: runs the suite with progress on stderr and prints the table (or, with `--json`,
 * the rows as a JSON array) on stdout, followed by the credential scan. Resolves with the exit code:
 * 1 when any image was lost, any result corrupt, any worker crashed or a credential leaked; else 0.
 */
export async function run(flags: Record<string, unknown>): Promise<number> {
  const options = loadChaosOptions(flags);
  // An interrupted run exits through 'exit', where the suite kills every server and worker it started.
  const interrupt = () => process.exit(130);
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const report = await runChaos(options, (line) => process.stderr.write(`${line}\n`));
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
  const leaks = report.secrets.findings;
  const scan = `credentials in outputs: ${leaks.length} (${report.secrets.files} files, ${(report.secrets.bytes / 1048576).toFixed(1)} MiB scanned: worker logs, metrics, results, failed reasons, Redis AOF)${leaks.length ? `\n${leaks.map((f) => `  ${f.secret} in ${f.file}`).join('\n')}` : ''}`;
  if (options.json) {
    process.stdout.write(chaosJson(report.rows));
    process.stderr.write(`${scan}\n`);
  } else {
    process.stdout.write(`facefleet chaos --scale ${options.scale} (${report.seconds} s)\n\n${formatChaosTable(report.rows)}\n${scan}\n`);
  }
  if (options.keep) process.stderr.write(`kept ${report.dir}\n`);
  const bad = report.rows.some((r) => r.lost > 0 || r.corrupt > 0 || r.crashes > 0) || leaks.length > 0;
  return bad ? 1 : 0;
}
