import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../models/registry';
import { SCRUBBED_ENV } from './chaos-worker';

/** How a one-shot `facefleet` command of the suite ended. */
export interface CliRun {
  /** Exit code; `null` when it was killed at the deadline. */
  exitCode: number | null;
  /** Wall time, s. */
  seconds: number;
  /** stdout and stderr together (also written to the log file). */
  output: string;
}

/**
 * Runs `node bin/facefleet.js <command…> <flags…>` with only `env` on top of the scrubbed parent
 * environment, writes its output to `logFile` (for the credential scan), and kills it after `timeoutMs`.
 */
export function runCli(flags: string[], command: string[], env: Record<string, string>, logFile: string, timeoutMs: number): Promise<CliRun> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED_ENV.test(k)) base[k] = v;
  const root = findRepoRoot();
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(root, 'bin', 'facefleet.js'), ...command, ...flags], { cwd: root, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      fs.writeFileSync(logFile, output);
      resolve({ exitCode: code, seconds: (Date.now() - t0) / 1000, output });
    });
  });
}
