import type { Detector, InputContract, RawTensor } from '../../src/detectors/detector';
import { BatchSession, DetectionEngine } from '../../src/engine/detection-engine';
import type { PreparedImage } from '../../src/imaging/prepared-image';
import type { RunResult } from '../../src/inference/session-host';
import type { WireTensor } from '../../src/inference/thread-protocol';

const input: InputContract = { name: 'x', width: 2, height: 1, layout: 'NHWC', colorOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1], padValue: [0, 0, 0] };

const detector: Detector = {
  id: 'fake',
  version: '1',
  input,
  outputNames: ['y'],
  dynamicBatch: true,
  defaults: { scoreThreshold: 0, iouThreshold: 0.5, preNmsTopK: 10, maxDetections: 10 },
  decode: (outputs: Record<string, RawTensor>, index: number) => [{ box: [0, 0, 1, 1], score: outputs.y.data[index] / 255 }],
};

const image = (v: number): PreparedImage => ({ pixels: Uint8Array.from([v, v, v, 0, 0, 0]), letterbox: { width: 2, height: 1, scale: 1, padX: 0, padY: 0 }, format: 'png' });

/**
 * A session whose runs finish only when the test says so, like a device that is busy: it records each
 * batch handed to it (its first values and its buffer) and echoes the first value of every image.
 */
function heldSession() {
  const calls: Array<{ firsts: number[]; buffer: ArrayBufferLike; finish: () => void }> = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const session: BatchSession = {
    run(feeds: Record<string, WireTensor>): Promise<RunResult> {
      const t = feeds.x;
      const n = t.dims[0];
      const per = t.data.length / n;
      const firsts = Array.from({ length: n }, (_, i) => t.data[i * per]);
      return new Promise((resolve) => {
        calls.push({ firsts, buffer: t.data.buffer, finish: () => resolve({ outputs: { y: { data: Float32Array.from(firsts), dims: [n] } }, inputs: feeds, runMs: 1 }) });
        for (const w of waiters.splice(0)) {
          if (calls.length >= w.n) w.resolve();
          else waiters.push(w);
        }
      });
    },
  };
  const untilCalls = (n: number) => new Promise<void>((resolve) => (calls.length >= n ? resolve() : waiters.push({ n, resolve })));
  return { session, calls, untilCalls };
}

/** Lets every pending callback and promise run, several turns of the event loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe('two batches in flight', () => {
  it('hands the session the next batch, packed, while one runs, and no third until one finishes', async () => {
    const { session, calls } = heldSession();
    const engine = new DetectionEngine(detector, session, { maxBatch: 2, maxWaitMs: 60_000, decode: detector.defaults, decodeSlots: 1 });
    const results = [10, 20, 30, 40, 50, 60].map((v) => engine.detect(image(v)));
    await settle();
    expect(calls.map((c) => c.firsts)).toEqual([[10, 20], [30, 40]]);

    calls[0].finish();
    await settle();
    expect(calls).toHaveLength(3);
    expect(calls[2].firsts).toEqual([50, 60]);
    // The third batch is packed into the memory the first one handed back.
    expect(calls[2].buffer).toBe(calls[0].buffer);

    calls[1].finish();
    calls[2].finish();
    const outs = await Promise.all(results);
    expect(outs.map((o) => Math.round(o.faces[0].score * 255))).toEqual([10, 20, 30, 40, 50, 60]);
    await engine.close();
  });

  it('sends a partial batch on time even while another runs, so a lone image is never stuck behind a busy device', async () => {
    const { session, calls, untilCalls } = heldSession();
    const engine = new DetectionEngine(detector, session, { maxBatch: 4, maxWaitMs: 1, decode: detector.defaults, decodeSlots: 1 });
    const full = [1, 2, 3, 4].map((v) => engine.detect(image(v)));
    await untilCalls(1);
    const lone = engine.detect(image(9));
    await untilCalls(2);
    expect(calls[1].firsts).toEqual([9]);
    calls[1].finish();
    await expect(lone).resolves.toMatchObject({ batchSize: 1 });
    calls[0].finish();
    await Promise.all(full);
    await engine.close();
  });
});
