import type { ChildProcess } from 'node:child_process';

/** How a process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  /** Exit code, or `null` when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * How `child` ends, as a promise taken when it is spawned (a later `once('exit')` would miss an exit
 * that already happened). `event`: `close` also waits for its output streams to end.
 */
export function exitOf(child: ChildProcess, event: 'exit' | 'close' = 'exit'): Promise<ExitStatus> {
  return new Promise((resolve) => child.once(event, (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
}

/**
 * Stops a child process: SIGTERM (a server writes its data and a worker drains on the way out), then
 * SIGKILL when it is still there after `graceMs`; resolves with how it ended once it is gone.
 *
 * @param exited - the child's {@link exitOf} promise.
 */
export async function stopProcess(child: ChildProcess, exited: Promise<ExitStatus>, graceMs: number): Promise<ExitStatus> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first !== 'late') return first;
  child.kill('SIGKILL');
  return exited;
}
