import { createLogger } from '../../src/telemetry/logger';
import { Lifecycle } from '../../src/lifecycle/lifecycle';

/** A log destination whose flush completes only when the test says so, as a write stuck behind a busy pool would. */
function heldDestination() {
  const lines: Array<Record<string, unknown>> = [];
  const held: Array<() => void> = [];
  return {
    lines,
    held,
    write(chunk: string) {
      for (const l of chunk.split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
    },
    flush(cb?: (err?: Error) => void) {
      held.push(() => cb?.());
    },
  };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A lifecycle with one shutdown step, its signal handlers on, and what its logger wrote and its exits. */
function started(close: () => Promise<void> | void, logFlushWaitMs: number) {
  const dest = heldDestination();
  const exits: number[] = [];
  const lifecycle = new Lifecycle({ drainDeadlineMs: 10_000, logger: createLogger({ destination: dest }), exit: (c) => exits.push(c), logFlushWaitMs });
  lifecycle.add({ name: 'the step', phase: 'intake', close });
  lifecycle.handleSignals();
  return { lifecycle, dest, exits };
}

describe('a signalled exit and the log', () => {
  let lifecycle: Lifecycle | undefined;
  afterEach(() => lifecycle?.releaseSignals());

  it('exits only once the lines written so far have been flushed', async () => {
    const run = started(() => undefined, 60_000);
    ({ lifecycle } = run);
    const { dest, exits } = run;
    process.emit('SIGTERM', 'SIGTERM');
    await tick(20);
    expect(dest.lines.map((l) => l.msg)).toEqual(['draining', 'stopped']);
    // The flush has not completed: no exit yet, whatever time passes.
    expect(exits).toEqual([]);
    dest.held.forEach((release) => release());
    expect(exits).toEqual([0]);
  });

  it('exits after the wait when the flush never completes (a pool thread stuck on a hung disk)', async () => {
    const run = started(() => Promise.reject(new Error('boom')), 50);
    ({ lifecycle } = run);
    const { dest, exits } = run;
    process.emit('SIGTERM', 'SIGTERM');
    await tick(10);
    expect(exits).toEqual([]);
    await tick(100);
    // A step failed: exit 1, once, even when the flush completes late.
    expect(exits).toEqual([1]);
    dest.held.forEach((release) => release());
    expect(exits).toEqual([1]);
  });

  it('a second signal flushes too, then exits 1', async () => {
    const run = started(() => new Promise<void>(() => undefined), 60_000);
    ({ lifecycle } = run);
    const { dest, exits } = run;
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    await tick(10);
    expect(dest.lines.map((l) => l.msg)).toEqual(['draining', 'second signal: exiting now']);
    expect(exits).toEqual([]);
    dest.held.forEach((release) => release());
    expect(exits).toEqual([1]);
  });
});
