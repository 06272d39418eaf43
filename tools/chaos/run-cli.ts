import { FacefleetProcess } from '../harness/facefleet-process';
import { SCRUBBED_ENV } from './chaos-env';

/** How a one-shot `facefleet` command of the suite ended. */
export interface CliRun {
  /** Exit code; `null` when it was killed at the deadline. */
  exitCode: number | null;
  /** Wall time, s. */
  seconds: number;
  /** stdout and stderr (also written to the log file). */
  output: string;
}

/**
 * Runs `node bin/facefleet.js <command…> <flags…>` with only `env` on top of the scrubbed parent
 * environment, writes its output to `logFile` (for the credential scan), and kills it after `timeoutMs`.
 */
export async function runCli(flags: string[], command: string[], env: Record<string, string>, logFile: string, timeoutMs: number): Promise<CliRun> {
  const t0 = Date.now();
  const child = FacefleetProcess.spawn([...command, ...flags], { scrub: SCRUBBED_ENV, env, logFile });
  const timer = setTimeout(() => void child.kill(), timeoutMs);
  const { code } = await child.exited;
  clearTimeout(timer);
  return { exitCode: code, seconds: (Date.now() - t0) / 1000, output: child.stdout + child.stderr };
}
