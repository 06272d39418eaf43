import type { Logger } from 'pino';
import { classify, ErrorCode } from '../errors';
import { scrubSecrets } from '../telemetry/logger';

/** How long a failed command may take to end on its own before it is ended, in ms. */
export const FAIL_EXIT_DEADLINE_MS = 5000;

/** Exit code of a command that failed with `code`: 64 (sysexits' EX_USAGE) for bad configuration, 1 otherwise. */
export function exitCodeFor(code: ErrorCode): number {
  return code === 'E_CONFIG' ? 64 : 1;
}

/** What {@link failStart} sets the exit code on and ends at its deadline (`process` satisfies it). */
export interface ExitTarget {
  exitCode?: number | string | null;
  exit(code: number): void;
}

/** Options of {@link failStart}. */
export interface FailStartOptions {
  /** The command, for the stderr line (`facefleet worker: …`) and the log line (`worker cannot start`). */
  command?: string;
  /** Logger for the fatal line; without one only stderr is written. */
  log?: Logger;
  /** Where the one-line message goes. @defaultValue process.stderr */
  stderr?: { write(text: string): unknown };
  /** How long the process may take to end on its own, in ms. @defaultValue {@link FAIL_EXIT_DEADLINE_MS} */
  exitDeadlineMs?: number;
  /** The process whose exit code is set. @defaultValue process */
  process?: ExitTarget;
}

/**
 * The one way a command ends on an error (worker, serve, and every other command through the CLI's
 * `main()`): classifies the error (anything unclassified is `E_INTERNAL`), logs it as fatal (with its
 * stack when `E_INTERNAL`), prints `facefleet <command>: CODE: message` on stderr (credentials
 * scrubbed, the stack added when `E_INTERNAL`) and sets the exit code from {@link exitCodeFor}.
 *
 * It does not end the process: a start closes what it opened before it rethrows, so the process ends on
 * its own with that code once the logs are written. Should something still hold it
 * `exitDeadlineMs` later, that is said on stderr and the process exits.
 *
 * @returns the exit code set.
 */
export function failStart(err: unknown, options: FailStartOptions = {}): number {
  const error = classify(err);
  const internal = error.code === 'E_INTERNAL';
  const original = error.cause ?? error;
  const code = exitCodeFor(error.code);
  const target = options.process ?? process;
  const stderr = options.stderr ?? process.stderr;
  const who = options.command ? `facefleet ${options.command}` : 'facefleet';
  if (options.log) {
    options.log.fatal({ code: error.code, err: internal ? original : error.message }, `${options.command ?? 'command'} cannot start`);
    options.log.flush();
  }
  const stack = internal && original instanceof Error && original.stack ? `\n${original.stack}` : '';
  stderr.write(`${scrubSecrets(`${who}: ${error.code}: ${error.message}${stack}`) as string}\n`);
  target.exitCode = code;
  const deadlineMs = options.exitDeadlineMs ?? FAIL_EXIT_DEADLINE_MS;
  // Unref'd: it fires only when something the failed command opened still holds the event loop.
  const timer = setTimeout(() => {
    stderr.write(`${who}: still running ${deadlineMs} ms after failing (something it opened was left open): exiting\n`);
    target.exit(code);
  }, deadlineMs);
  timer.unref();
  return code;
}
