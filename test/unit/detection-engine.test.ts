import type { Detector, InputContract, RawTensor } from '../../src/detectors/detector';
import { BatchStats, BatchSession, DetectionEngine } from '../../src/engine/detection-engine';
import type { PreparedImage } from '../../src/imaging/prepared-image';
import { FacefleetError } from '../../src/errors';
import { FleetMetrics } from '../../src/telemetry/metrics';

const input: InputContract = { name: 'x', width: 2, height: 1, layout: 'NHWC', colorOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1], padValue: [0, 0, 0] };

/** A detector whose single "face" carries the first pixel value of its image as the score. */
function fakeDetector(dynamicBatch: boolean): Detector {
  return {
    id: 'fake',
    version: '1',
    input,
    outputNames: ['y'],
    dynamicBatch,
    defaults: { scoreThreshold: 0, iouThreshold: 0.5, preNmsTopK: 10, maxDetections: 10 },
    decode: (outputs: Record<string, RawTensor>, index: number) => [{ box: [0, 0, 1, 1], score: outputs.y.data[index] / 255 }],
  };
}

/** A session that echoes the first value of every image in the batch, counting its runs. */
function echoSession(): BatchSession & { runs: number[] } {
  const runs: number[] = [];
  return {
    runs,
    async run(feeds) {
      const t = feeds.x;
      const n = t.dims[0];
      runs.push(n);
      const per = t.data.length / n;
      return { outputs: { y: { data: Float32Array.from({ length: n }, (_, i) => t.data[i * per]), dims: [n] } }, runMs: 1 };
    },
  };
}

const image = (v: number): PreparedImage => ({
  pixels: Uint8Array.from([v, v, v, 0, 0, 0]),
  letterbox: { width: 2, height: 1, scale: 1, padX: 0, padY: 0 },
  format: 'png',
});

describe('DetectionEngine', () => {
  it('runs concurrent images as one batch and gives each image its own outputs', async () => {
    const session = echoSession();
    const batches: BatchStats[] = [];
    const engine = new DetectionEngine(fakeDetector(true), session, { maxBatch: 4, maxWaitMs: 20, decode: fakeDetector(true).defaults, onBatch: (b) => batches.push(b) });
    const values = [10, 20, 30, 40];
    const outs = await Promise.all(values.map((v, i) => engine.detect(image(v), {}, `job-${i}`)));
    expect(outs.map((o) => Math.round(o.faces[0].score * 255))).toEqual(values);
    expect(outs.every((o) => o.batchSize === 4)).toBe(true);
    expect(session.runs).toEqual([4]);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ batchId: 1, size: 4, tags: ['job-0', 'job-1', 'job-2', 'job-3'] });
    await engine.close();
  });

  it("counts the inference thread's time in session.run and the decode slots' time as busy time", async () => {
    const metrics = new FleetMetrics({ defaultMetrics: false });
    const session = echoSession();
    const engine = new DetectionEngine(fakeDetector(false), session, { maxBatch: 3, maxWaitMs: 20, decode: fakeDetector(false).defaults, metrics, decodeSlots: 3 });
    // Three runs of 1 ms each (the session's own runMs), whatever the wall time around them.
    await Promise.all([5, 6, 7].map((v) => engine.detect(image(v))));
    const decoded = await engine.decodeSlot(() => new Promise<string>((r) => setTimeout(() => r('pixels'), 40)));
    expect(decoded).toBe('pixels');
    await expect(engine.decodeSlot(() => Promise.reject(new Error('bad image')))).rejects.toThrow('bad image');
    const value = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.model === 'fake')?.value;
    expect(await value('facefleet_inference_busy_seconds_total')).toBeCloseTo(0.003, 6);
    expect(await value('facefleet_decode_slots')).toBe(3);
    // The 40 ms decode, and the failed one's moment: a failed decode held its slot too.
    const decodeBusy = (await value('facefleet_decode_busy_seconds_total'))!;
    expect(decodeBusy).toBeGreaterThanOrEqual(0.035);
    expect(decodeBusy).toBeLessThan(1);
    await engine.close();
  });

  it('loops one run per image when the batch axis is fixed, still as one batch', async () => {
    const session = echoSession();
    const engine = new DetectionEngine(fakeDetector(false), session, { maxBatch: 3, maxWaitMs: 20, decode: fakeDetector(false).defaults });
    const outs = await Promise.all([5, 6, 7].map((v) => engine.detect(image(v))));
    expect(outs.map((o) => Math.round(o.faces[0].score * 255))).toEqual([5, 6, 7]);
    expect(session.runs).toEqual([1, 1, 1]);
    await engine.close();
  });

  it('fails only the image whose decoding throws: E_INFERENCE for outputs the detector refused, E_INTERNAL for a bug', async () => {
    const det = fakeDetector(true);
    const throwing: Detector = {
      ...det,
      decode: (o, i, l, d) => {
        if (i === 0) throw new FacefleetError('E_INFERENCE', 'output missing');
        if (i === 1) throw new TypeError('boom');
        return det.decode(o, i, l, d);
      },
    };
    const engine = new DetectionEngine(throwing, echoSession(), { maxBatch: 3, maxWaitMs: 20, decode: det.defaults });
    const settled = await Promise.allSettled([1, 2, 3].map((v) => engine.detect(image(v))));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'E_INFERENCE', message: expect.stringContaining('output missing') });
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'E_INTERNAL', message: expect.stringContaining('boom') });
    expect((settled[1] as PromiseRejectedResult).reason.cause).toBeInstanceOf(TypeError);
    await engine.close();
  });

  it('runs at most decodeSlots decodes at once, queueing the rest in order', async () => {
    const engine = new DetectionEngine(fakeDetector(true), echoSession(), { maxBatch: 4, maxWaitMs: 5, decode: fakeDetector(true).defaults, decodeSlots: 2 });
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const decode = (i: number) => engine.decodeSlot(async () => {
      started.push(i);
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      return i;
    });
    expect(await Promise.all([0, 1, 2, 3, 4, 5].map(decode))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    await engine.close();
  });
});
