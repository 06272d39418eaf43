import { LivenessProbe } from '../../src/telemetry/liveness';
import type { QueueSnapshot } from '../../src/telemetry/queue-monitor';

/**
 * Liveness of a wedged worker: one holding jobs (its locks kept alive by a healthy main thread) that
 * finishes none is stuck even when nothing else waits — it may hold the whole queue; a worker waiting
 * out a storage outage on purpose is not.
 */
describe('liveness: a worker holding jobs it never finishes', () => {
  function setup() {
    let now = 5_000_000;
    let held = 0;
    let excused = false;
    let queue: QueueSnapshot | undefined = { backlog: 0, paused: false, at: now };
    const p = new LivenessProbe({ queue: () => queue, held: () => held, excused: () => excused, now: () => now, progressStallMs: 60_000 });
    return {
      p,
      advance: (ms: number) => {
        now += ms;
        p.tick();
        if (queue) queue = { ...queue, at: now };
      },
      hold: (n: number) => (held = n),
      excuse: (on: boolean) => (excused = on),
      backlog: (n: number) => (queue = { backlog: n, paused: false, at: now }),
    };
  }

  it('fails when the worker holds jobs, nothing waits, and it finishes none for the stall time', () => {
    const t = setup();
    t.advance(3_600_000);
    t.hold(24);
    expect(t.p.check().ok).toBe(true);
    t.advance(59_000);
    expect(t.p.check().ok).toBe(true);
    t.advance(2_000);
    expect(t.p.check()).toEqual({ ok: false, reason: expect.stringMatching(/^24 jobs held but none finished by this worker for 6\d s$/) });
  });

  it('stays live while held jobs keep finishing', () => {
    const t = setup();
    t.hold(24);
    for (let i = 0; i < 6; i++) {
      t.advance(40_000);
      t.p.jobFinished();
      expect(t.p.check().ok).toBe(true);
    }
  });

  it('does not count time spent waiting out a storage outage, and counts afresh after it', () => {
    const t = setup();
    t.backlog(500);
    t.hold(24);
    t.p.check();
    t.excuse(true);
    t.advance(600_000);
    expect(t.p.check().ok).toBe(true);
    t.excuse(false);
    expect(t.p.check().ok).toBe(true);
    t.advance(30_000);
    expect(t.p.check().ok).toBe(true);
    t.advance(31_000);
    expect(t.p.check().ok).toBe(false);
  });
});
