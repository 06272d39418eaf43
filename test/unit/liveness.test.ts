import { LivenessProbe } from '../../src/telemetry/liveness';
import type { QueueSnapshot } from '../../src/telemetry/queue-monitor';

/** A probe on a hand-driven clock and queue. */
function probe(progressStallMs = 60_000) {
  let now = 1_000_000;
  let queue: QueueSnapshot | undefined;
  const p = new LivenessProbe({ queue: () => queue, now: () => now, loopStallMs: 10_000, progressStallMs });
  return {
    p,
    advance(ms: number, tick = true) {
      now += ms;
      if (tick) p.tick();
    },
    setQueue(backlog: number, paused = false) {
      queue = { backlog, paused, at: now };
    },
  };
}

describe('LivenessProbe', () => {
  it('is live while the event loop turns and nothing waits', () => {
    const t = probe();
    t.setQueue(0);
    t.advance(3_600_000);
    expect(t.p.check()).toEqual({ ok: true });
  });

  it('fails when the event loop has not turned for the stall time', () => {
    const t = probe();
    t.advance(9_000, false);
    expect(t.p.check().ok).toBe(true);
    t.advance(2_000, false);
    expect(t.p.check()).toMatchObject({ ok: false, reason: expect.stringContaining('event loop stalled') });
  });

  it('fails when jobs wait and this worker finishes none for the stall time', () => {
    const t = probe(60_000);
    t.setQueue(100);
    expect(t.p.check().ok).toBe(true);
    t.advance(59_000);
    expect(t.p.check().ok).toBe(true);
    t.advance(2_000);
    expect(t.p.check()).toMatchObject({ ok: false, reason: expect.stringContaining('none finished') });
  });

  it('stays live while jobs wait and jobs keep finishing', () => {
    const t = probe(60_000);
    t.setQueue(100);
    for (let i = 0; i < 10; i++) {
      t.advance(30_000);
      t.p.jobFinished();
      expect(t.p.check().ok).toBe(true);
    }
  });

  it('counts the stall from when the backlog appeared, not from the last job long ago', () => {
    const t = probe(60_000);
    t.setQueue(0);
    t.advance(600_000);
    expect(t.p.check().ok).toBe(true);
    t.setQueue(5);
    expect(t.p.check().ok).toBe(true);
    t.advance(30_000);
    expect(t.p.check().ok).toBe(true);
  });

  it('does not blame the worker for a paused queue', () => {
    const t = probe(60_000);
    t.setQueue(100, true);
    t.advance(600_000);
    expect(t.p.check().ok).toBe(true);
  });
});
