import { loadModelConfig } from '../../src/config/model-config';
import type { Detector } from '../../src/detectors/detector';
import type { LoadedModel } from '../../src/engine/build-engine';
import { SessionHost } from '../../src/inference/session-host';
import { BenchImageSet } from './bench-images';
import type { BenchOptions } from './bench-options';
import { InferenceGridReport, InferenceRow, InferenceSetting, chooseInference, describeSetting, inferenceGrid, medianRound, productSetting, sessionKey } from './inference-grid';
import { perImage, rate } from './phase-result';
import type { ProgressSink } from './progress';
import { quantiles } from './stats';
import { runLoop } from './ceiling';
import { usableCores } from '../../src/host/cpu-quota';

/** Settings of {@link measureInferenceGrid}. */
export interface InferenceSweepOptions {
  /** The ONNX file every session of the grid loads. */
  modelPath: string;
  /** The model's input contract and whether its graph takes any batch size. */
  detector: Detector;
  /** Photos whose canvases are packed into the input tensors. */
  set: BenchImageSet;
  /** The grid's points, rows of one session adjacent (see `inferenceGrid`). */
  settings: readonly InferenceSetting[];
  /** The product's defaults, placed against the cheapest and the fastest row. */
  productDefaults: InferenceSetting;
  /** Measured time per row, s. */
  seconds: number;
  /** Let onnxruntime's pool threads spin (`--ort-allow-spinning`), in every session. @defaultValue false */
  allowSpinning?: boolean;
  /** Times the whole grid runs, one round after the other; each row reports its median round. @defaultValue 1 */
  rounds?: number;
}

/**
 * Measures the cost of inference for every point of a grid of session settings on the CPU provider:
 * for each distinct session (intra-op threads, execution mode, inter-op threads) a fresh inference
 * thread ({@link SessionHost}, the product's) is started, and for each batch size `session.run` loops
 * on tensors packed once, as the ceiling does, with two runs in flight and each run's input buffer
 * handed back by the thread and sent again (no copy on the main thread). Two warm-up runs per row are
 * not counted. With `rounds`, the whole grid runs that many times, one round after the other (so drift
 * in the machine's load hits every row alike), and each row reports its median round. CPU is the whole
 * process's (`process.cpuUsage`: the main thread, the inference thread and onnxruntime's pools), so it
 * also counts the thread hand-over a worker pays. A graph with a fixed batch axis runs batch 1 only.
 */
export async function measureInferenceGrid(options: InferenceSweepOptions, progress: ProgressSink): Promise<InferenceGridReport> {
  const { detector } = options;
  const settings = detector.dynamicBatch ? options.settings : options.settings.filter((s) => s.batch === 1);
  const rounds = options.rounds ?? 1;
  const measured: InferenceRow[][] = settings.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const tag = rounds > 1 ? ` (round ${r + 1}/${rounds})` : '';
    let host: SessionHost | undefined;
    let hostKey = '';
    try {
      for (const [i, setting] of settings.entries()) {
        if (!host || sessionKey(setting) !== hostKey) {
          await host?.close();
          host = undefined;
          host = await SessionHost.start({
            modelPath: options.modelPath,
            intraOpThreads: setting.intraOpThreads,
            interOpThreads: setting.interOpThreads,
            executionMode: setting.mode,
            allowSpinning: options.allowSpinning ?? false,
            providers: ['cpu'],
            allowCpuFallback: false,
          });
          hostKey = sessionKey(setting);
        }
        progress.phase(`inference ${i + 1}/${settings.length}${tag}: ${describeSetting(setting)}`);
        const row = await measureRow(host, detector, options.set, setting, options.seconds, progress);
        progress.end(`${row.imagesPerSecond} images/s, ${row.cpuMsPerImage ?? '-'} CPU ms/image, ${row.runMs?.p50 ?? '-'} ms per batch`);
        measured[i].push(row);
      }
    } finally {
      await host?.close();
    }
  }
  const rows = measured.map(medianRound);
  const input = detector.input;
  return {
    model: `${detector.id} ${detector.version}`,
    canvas: { width: input.width, height: input.height },
    cores: usableCores(),
    seconds: options.seconds,
    rounds,
    allowSpinning: options.allowSpinning ?? false,
    productDefaults: options.productDefaults,
    rows,
    choice: chooseInference(rows, options.productDefaults),
  };
}

/** One row: `session.run` in a loop at one batch size on an already started session. */
async function measureRow(host: SessionHost, detector: Detector, set: BenchImageSet, setting: InferenceSetting, seconds: number, progress: ProgressSink): Promise<InferenceRow> {
  const { batch } = setting;
  const runMs: number[] = [];
  const loop = await runLoop(host, detector, set, batch, seconds, progress, (ms) => runMs.push(ms));
  return {
    ...setting,
    imagesPerSecond: rate(loop.canvases, loop.wallMs),
    images: loop.canvases,
    seconds: loop.wallMs / 1000,
    cpuMsPerImage: perImage(loop.cpuMs, loop.canvases),
    runMs: quantiles(runMs),
    contention: loop.contention,
  };
}

/**
 * The `inference` phase of `facefleet bench`: the grid of `--inference-batches` × `--intra-threads` ×
 * `--execution-modes` on the loaded model's file and canvas, `--inference-seconds` per row, with the
 * product's defaults (the model options' defaults, not this run's flags) placed against the result;
 * `--rounds` repeats the grid.
 */
export function runInferencePhase(options: Readonly<BenchOptions>, model: Pick<LoadedModel, 'modelPath' | 'detector'>, set: BenchImageSet, progress: ProgressSink): Promise<InferenceGridReport> {
  // The defaults of this model (the intra-op default depends on it), on the CPU.
  const defaults = loadModelConfig({ model: options.model.model, ...(options.model.modelPath ? { modelPath: options.model.modelPath } : {}) }, {});
  return measureInferenceGrid({
    modelPath: model.modelPath,
    detector: model.detector,
    set,
    settings: inferenceGrid(options.inferenceBatches, options.intraThreads, options.executionModes),
    productDefaults: productSetting(defaults, model.detector.dynamicBatch),
    seconds: options.inferenceSeconds,
    allowSpinning: options.model.ortAllowSpinning,
    rounds: options.rounds,
  }, progress);
}
