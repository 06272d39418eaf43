import { FleetMetrics } from '../../src/telemetry/metrics';
import { busyCounters, busyShares, parseMetricSums } from '../../tools/bench/worker-busy';

describe('the workers\' busy-time metrics, as the bench reads them', () => {
  it('parses sums per metric over label sets, skipping comments and non-numbers', () => {
    const sums = parseMetricSums(['# HELP a_total x', '# TYPE a_total counter', 'a_total{model="r"} 1.5', 'a_total{model="b"} 2', 'b 7', 'c NaN', ''].join('\n'));
    expect(sums.get('a_total')).toEqual({ sum: 3.5, max: 2 });
    expect(sums.get('b')).toEqual({ sum: 7, max: 7 });
    expect(sums.has('c')).toBe(false);
  });

  it("reads a real registry's counters: inference and decode time, slots and event-loop time", async () => {
    const m = new FleetMetrics({ defaultMetrics: false });
    m.inferenceBusy.inc({ model: 'retinaface' }, 1.25);
    m.decodeBusy.inc({ model: 'retinaface' }, 3);
    m.decodeSlots.set({ model: 'retinaface' }, 2);
    const busyUntil = performance.now() + 30;
    while (performance.now() < busyUntil);
    const c = busyCounters(await m.registry.metrics());
    expect(c).toMatchObject({ inferenceS: 1.25, decodeS: 3, decodeSlots: 2 });
    // The loop just spun for 30 ms: event-loop busy time counts it.
    expect(c!.eventLoopS).toBeGreaterThanOrEqual(0.03);
  });

  it('is null for a scrape without the counters (an older worker)', () => {
    expect(busyCounters('facefleet_batch_size_count 3\n')).toBeNull();
  });

  it('turns two scrapes into shares of wall time, per worker, decode over its slots', () => {
    const before = [
      { inferenceS: 10, decodeS: 4, decodeSlots: 2, eventLoopS: 1 },
      { inferenceS: 0, decodeS: 0, decodeSlots: 2, eventLoopS: 0 },
    ];
    const after = [
      { inferenceS: 19, decodeS: 10, decodeSlots: 2, eventLoopS: 3 },
      { inferenceS: 8, decodeS: 8, decodeSlots: 2, eventLoopS: 2 },
    ];
    // 10 s of wall: inference (9 + 8) / 2 workers / 10 s; decode (6/2 + 8/2) / 2 / 10; loop (2 + 2) / 2 / 10.
    expect(busyShares(before, after, 10_000)).toEqual({ inferenceThread: 0.85, decodeSlots: 0.35, mainThread: 0.2 });
  });

  it('is null when a worker did not answer either scrape, or no time passed', () => {
    const c = { inferenceS: 1, decodeS: 1, decodeSlots: 1, eventLoopS: 1 };
    expect(busyShares([c, null], [c, c], 1000)).toBeNull();
    expect(busyShares([c], [c], 0)).toBeNull();
    expect(busyShares([], [], 1000)).toBeNull();
  });
});
