import pLimit from 'p-limit';
import type { DecodeOptions, Detector, Face } from '../detectors/detector';
import { FacefleetError } from '../errors';
import { packTensor } from '../imaging/pack-tensor';
import type { PreparedImage } from '../imaging/prepared-image';
import type { TilingOptions } from '../imaging/tile-plan';
import { MicroBatcher } from '../inference/micro-batcher';
import type { RunResult } from '../inference/session-host';
import type { WireTensor } from '../inference/thread-protocol';
import type { FleetMetrics } from '../telemetry/metrics';
import { usableCores } from '../host/cpu-quota';

/** The part of a session the engine needs (a `SessionHost`, or a fake in unit tests). */
export interface BatchSession {
  run(feeds: Record<string, WireTensor>): Promise<RunResult>;
}

/** Faces for one image and what the batch it ran in cost. */
export interface EngineOutput {
  faces: Face[];
  /** Wall time from submit to faces (waiting for the batch + inference + decoding), ms. */
  inferenceMs: number;
  /** Decoding of this image's outputs, ms. */
  postprocessMs: number;
  batchSize: number;
}

/** Settings of a {@link DetectionEngine}. */
export interface EngineOptions {
  /** Images per `session.run`. */
  maxBatch: number;
  /** ms a partial batch waits. */
  maxWaitMs: number;
  /** Decode settings (detector defaults merged with config overrides). */
  decode: DecodeOptions;
  metrics?: FleetMetrics;
  /** Called after every batch (benchmarks and the demo's summary). */
  onBatch?: (batch: BatchStats) => void;
  /** Tiling of large photos (see `planTiles`); undefined or `maxTiles` 0 for none. */
  tiling?: TilingOptions;
  /**
   * Images decoded at once through {@link DetectionEngine.decodeSlot}. Decodes run on libuv's thread
   * pool, as file reads and writes do: bounding them (with the pool sized above it, see
   * `bin/facefleet.js`) keeps threads free, so a read never waits behind a queue of decodes. More
   * decodes than cores only contend. @defaultValue the usable cores (`usableCores()`: CPU affinity and the container's CPU limit)
   */
  decodeSlots?: number;
}

/** What one batch cost. */
export interface BatchStats {
  /** Sequence number of the batch in this engine (1, 2, …). */
  batchId: number;
  /** The tags images were submitted with (the worker passes job ids), in batch order. */
  tags: string[];
  size: number;
  /** Packing the input tensor, ms. */
  preprocessMs: number;
  /** `session.run` as seen from the main thread (including the thread hop), ms. */
  inferenceMs: number;
  /** Decoding every image's outputs, ms. */
  postprocessMs: number;
}

/** What the engine needs of an image or tile: its canvas and how to map back. */
export type EngineView = Pick<PreparedImage, 'pixels' | 'letterbox'>;

interface Item {
  tag?: string;
  image: EngineView;
  decode: DecodeOptions;
  submitted: number;
}

/**
 * Runs prepared images through a detector in micro-batches: packs one input tensor per batch, runs it
 * on the session (one `session.run` per batch, or a loop when the graph's batch axis is fixed), and
 * decodes each image's outputs back to faces in original pixels.
 */
export class DetectionEngine {
  private readonly batcher: MicroBatcher<Item, EngineOutput>;
  private batchSeq = 0;
  /**
   * Input buffers of `maxBatch` images that came back from the session, packed into again instead of
   * allocating (and page-faulting) a fresh tensor per batch. At most one per batch in flight.
   */
  private readonly inputPool: Float32Array[] = [];
  private readonly decodes: pLimit.Limit;

  constructor(
    readonly detector: Detector,
    private readonly session: BatchSession,
    private readonly options: EngineOptions,
  ) {
    this.batcher = new MicroBatcher((items) => this.runBatch(items), { maxBatch: options.maxBatch, maxWaitMs: options.maxWaitMs, maxInFlight: 2 });
    const slots = Math.max(1, options.decodeSlots ?? usableCores());
    this.decodes = pLimit(slots);
    options.metrics?.decodeSlots.set({ model: detector.id }, slots);
  }

  /** Runs `decode` (an image decode) once one of the engine's decode slots is free; its time counts as the slots' busy time. */
  decodeSlot<T>(decode: () => Promise<T>): Promise<T> {
    const m = this.options.metrics;
    if (!m) return this.decodes(decode);
    return this.decodes(async () => {
      const t0 = performance.now();
      try {
        return await decode();
      } finally {
        m.decodeBusy.inc({ model: this.detector.id }, (performance.now() - t0) / 1000);
      }
    });
  }

  /** Detects faces in one prepared image, batched with whatever else arrives at the same time. */
  detect(image: EngineView, overrides: Partial<DecodeOptions> = {}, tag?: string): Promise<EngineOutput> {
    return this.batcher.submit({ tag, image, decode: { ...this.options.decode, ...overrides }, submitted: performance.now() });
  }

  /** Tiling of large photos that images prepared for this engine should use. */
  get tiling(): TilingOptions | undefined {
    return this.options.tiling;
  }

  /** The decode settings this engine applies, with `overrides`. */
  decodeOptions(overrides: Partial<DecodeOptions> = {}): DecodeOptions {
    return { ...this.options.decode, ...overrides };
  }

  /** Finishes batches in flight and refuses new images. */
  close(): Promise<void> {
    return this.batcher.close();
  }

  private async runBatch(items: Item[]): Promise<Array<EngineOutput | Error>> {
    const { detector } = this;
    const { input } = detector;
    const labels = { model: detector.id };
    const runs: Array<{ outputs: Record<string, WireTensor>; indices: number[] }> = [];
    let preprocessMs = 0;
    let inferenceMs = 0;
    // A fixed batch axis means one run per image, still in this batch's turn on the inference thread.
    const groups = detector.dynamicBatch ? [items.map((_, i) => i)] : items.map((_, i) => [i]);
    for (const indices of groups) {
      const tPack = performance.now();
      // packTensor returns a view of exactly this batch's length: what a larger, reused buffer holds
      // beyond it is never fed to the session.
      const data = packTensor(indices.map((i) => items[i].image.pixels), input, this.takeInputBuffer());
      const tRun = performance.now();
      preprocessMs += tRun - tPack;
      const res = await this.session.run({ [input.name]: { data, dims: this.dims(indices.length) } });
      inferenceMs += performance.now() - tRun;
      this.options.metrics?.inferenceBusy.inc(labels, res.runMs / 1000);
      const back = res.inputs?.[input.name]?.data;
      if (back && this.inputPool.length < 2) this.inputPool.push(new Float32Array(back.buffer, 0, back.buffer.byteLength / 4));
      runs.push({ outputs: res.outputs, indices });
    }
    const m = this.options.metrics;
    m?.stageDuration.observe({ ...labels, stage: 'preprocess' }, preprocessMs / 1000);
    m?.stageDuration.observe({ ...labels, stage: 'inference' }, inferenceMs / 1000);
    m?.batchSize.observe(labels, items.length);
    const tPost = performance.now();
    const out: Array<EngineOutput | Error> = new Array(items.length);
    for (const run of runs) {
      run.indices.forEach((itemIndex, batchIndex) => {
        const item = items[itemIndex];
        const t = performance.now();
        try {
          const faces = detector.decode(run.outputs, batchIndex, item.image.letterbox, item.decode);
          out[itemIndex] = {
            faces,
            inferenceMs: t - item.submitted,
            postprocessMs: performance.now() - t,
            batchSize: items.length,
          };
        } catch (err) {
          // Outputs the detector refused are an inference failure of this batch; anything else a bug.
          const code = err instanceof FacefleetError ? 'E_INFERENCE' : 'E_INTERNAL';
          out[itemIndex] = new FacefleetError(code, `decoding outputs failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        }
      });
    }
    const postprocessMs = performance.now() - tPost;
    m?.stageDuration.observe({ ...labels, stage: 'postprocess' }, postprocessMs / 1000);
    this.options.onBatch?.({
      batchId: ++this.batchSeq,
      tags: items.map((i) => i.tag ?? ''),
      size: items.length,
      preprocessMs,
      inferenceMs,
      postprocessMs,
    });
    return out;
  }

  /** A buffer for `maxBatch` images: one handed back by the session, else a new one. */
  private takeInputBuffer(): Float32Array {
    const { width, height } = this.detector.input;
    const floats = this.options.maxBatch * width * height * 3;
    const pooled = this.inputPool.pop();
    return pooled && pooled.length >= floats ? pooled : new Float32Array(floats);
  }

  private dims(n: number): number[] {
    const { layout, width, height } = this.detector.input;
    return layout === 'NHWC' ? [n, height, width, 3] : [n, 3, height, width];
  }
}
