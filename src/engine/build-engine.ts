import fs from 'node:fs';
import type { DecodeOptions, Detector } from '../detectors/detector';
import { BlazeFaceDetector } from '../detectors/blazeface-detector';
import { MogFaceDetector } from '../detectors/mogface-detector';
import { parseMogFaceManifest } from '../detectors/mogface-manifest';
import { RetinaFaceDetector, RetinaFaceManifest } from '../detectors/retinaface-detector';
import { FacefleetError } from '../errors';
import { setupSharp } from '../imaging/sharp-setup';
import { DEFAULT_TILING, TilingOptions } from '../imaging/tile-plan';
import { SessionHost } from '../inference/session-host';
import { pullBlazeFace } from '../models/blazeface-pull';
import { sha256File } from '../models/file-digest';
import { resolveModelCacheDir } from '../models/model-cache';
import { pullRetinaFace } from '../models/retinaface-pull';
import { loadManifest } from '../models/registry';
import type { FleetMetrics } from '../telemetry/metrics';
import { BatchStats, DetectionEngine } from './detection-engine';

/** Model settings of a worker, `detect`, `demo` or `bench`. */
export interface ModelSettings {
  model: 'retinaface' | 'blazeface' | 'mogface';
  modelPath?: string;
  canvas: number;
  /** Extra tiles per large photo; 0 for none. @defaultValue the model's ({@link DEFAULT_MAX_TILES}) */
  maxTiles?: number;
  batch: number;
  maxWaitMs: number;
  threads: number;
  providers: string[];
  allowCpuFallback: boolean;
  scoreThreshold?: number;
  /** libvips threads per image, applied to sharp (process-wide) when the model loads. @defaultValue unchanged (1) */
  decodeThreads?: number;
  /** Let onnxruntime's pool threads busy-wait between parallel sections. @defaultValue false */
  ortAllowSpinning?: boolean;
}

/** A loaded model: detector, session thread and the batching engine over them. */
export interface LoadedModel {
  detector: Detector;
  session: SessionHost;
  engine: DetectionEngine;
  modelPath: string;
  /** Load (and pull) time, ms. */
  loadMs: number;
  /** Notes for the user, e.g. that random-init weights detect nothing meaningful. */
  warnings: string[];
  /** Finishes batches in flight and ends the session thread. */
  close(): Promise<void>;
}

/**
 * Resolves a model (pulling RetinaFace or BlazeFace into the cache on first use), checks the model's manifest
 * against the session's real inputs and outputs, starts the inference thread and wraps it in a
 * {@link DetectionEngine}. Every failure here is fatal (`E_MODEL` / `E_CONFIG`): the process must not
 * take jobs.
 */
export async function loadModel(settings: ModelSettings, options: { metrics?: FleetMetrics; onPull?: (msg: string) => void; onBatch?: (b: BatchStats) => void } = {}): Promise<LoadedModel> {
  const t0 = performance.now();
  const warnings: string[] = [];
  let detector: Detector;
  let modelPath: string;
  if (settings.model === 'retinaface') {
    const manifest = loadManifest('retinaface') as RetinaFaceManifest;
    modelPath = settings.modelPath ?? (await pullRetinaFace({ cacheDir: resolveModelCacheDir(), manifest, logger: options.onPull ? (m) => options.onPull!(m) : undefined })).modelPath;
    detector = new RetinaFaceDetector({ manifest, canvas: settings.canvas });
  } else if (settings.model === 'blazeface') {
    const manifest = loadManifest('blazeface');
    let dynamicBatch = false;
    if (settings.modelPath) {
      modelPath = settings.modelPath;
    } else {
      const pulled = await pullBlazeFace({ cacheDir: resolveModelCacheDir(), manifest, logger: options.onPull ? (m) => options.onPull!(m) : undefined });
      modelPath = pulled.modelPath;
      dynamicBatch = pulled.dynamicBatch;
      if (pulled.rewriteError) warnings.push(`batch rewrite failed, running one image per session.run: ${pulled.rewriteError}`);
    }
    detector = new BlazeFaceDetector({ manifest, dynamicBatch });
  } else {
    if (!settings.modelPath) throw new FacefleetError('E_CONFIG', 'modelPath: --model mogface needs --model-path FILE.onnx (export one with models/mogface/export.py)');
    modelPath = settings.modelPath;
    const manifestPath = `${modelPath}.manifest.json`;
    if (!fs.existsSync(manifestPath)) throw new FacefleetError('E_MODEL', `no model manifest beside ${modelPath} (expected ${manifestPath}, written by export.py)`);
    const manifest = parseMogFaceManifest(JSON.parse(fs.readFileSync(manifestPath, 'utf8')), manifestPath);
    if (!fs.existsSync(modelPath)) throw new FacefleetError('E_MODEL', `model file ${modelPath} does not exist`);
    const digest = await sha256File(modelPath);
    if (digest !== manifest.sha256) throw new FacefleetError('E_MODEL', `${modelPath} does not match its manifest: sha256 ${digest}, manifest says ${manifest.sha256}`);
    if (manifest.randomInit) warnings.push('random-init: not a detector — this MogFace export has random weights; its detections are meaningless (shapes and speed only)');
    detector = new MogFaceDetector(manifest, settings.canvas);
  }
  if (!fs.existsSync(modelPath)) throw new FacefleetError('E_MODEL', `model file ${modelPath} does not exist`);

  // sharp's settings are process-wide: the decode threads apply to every decode of this process.
  if (settings.decodeThreads !== undefined) setupSharp(settings.decodeThreads);
  const session = await SessionHost.start({
    modelPath,
    intraOpThreads: settings.threads,
    interOpThreads: 1,
    allowSpinning: settings.ortAllowSpinning ?? false,
    providers: settings.providers,
    allowCpuFallback: settings.allowCpuFallback,
  });
  try {
    checkSession(detector, session.info.inputNames, session.info.outputNames, modelPath);
    if (detector instanceof MogFaceDetector) detector.checkSessionShapes(session.info.inputNames, session.info.outputNames);
  } catch (err) {
    await session.close();
    throw err;
  }
  const decode: DecodeOptions = { ...detector.defaults, ...(settings.scoreThreshold !== undefined ? { scoreThreshold: settings.scoreThreshold } : {}) };
  const engine = new DetectionEngine(detector, session, { maxBatch: settings.batch, maxWaitMs: settings.maxWaitMs, decode, metrics: options.metrics, onBatch: options.onBatch, tiling: tilingFor(settings) });
  const loadMs = performance.now() - t0;
  options.metrics?.modelLoad.set({ model: detector.id }, loadMs / 1000);
  return {
    detector,
    session,
    engine,
    modelPath,
    loadMs,
    warnings,
    async close() {
      await engine.close();
      await session.close();
    },
  };
}

/**
 * Tiles per large photo when the settings name none: RetinaFace, the default, finds small faces with
 * them; BlazeFace is kept for cheap close-ups and MogFace costs seconds per canvas on CPU.
 */
export const DEFAULT_MAX_TILES: Readonly<Record<ModelSettings['model'], number>> = Object.freeze({ retinaface: 4, blazeface: 0, mogface: 0 });

/** The tiling a model runs with: the settings' `maxTiles`, else the model's default; none at 0. */
export function tilingFor(settings: Pick<ModelSettings, 'model' | 'maxTiles'>): TilingOptions | undefined {
  const maxTiles = settings.maxTiles ?? DEFAULT_MAX_TILES[settings.model];
  return maxTiles > 0 ? { ...DEFAULT_TILING, maxTiles } : undefined;
}

/** The session must have the detector's input and every output it decodes. */
function checkSession(detector: Detector, inputs: string[], outputs: string[], file: string): void {
  const missing = [
    ...(inputs.includes(detector.input.name) ? [] : [`input ${detector.input.name}`]),
    ...detector.outputNames.filter((o) => !outputs.includes(o)).map((o) => `output ${o}`),
  ];
  if (missing.length > 0) {
    throw new FacefleetError('E_MODEL', `${file} does not match its manifest: missing ${missing.join(', ')}; the session has inputs [${inputs.join(', ')}] and outputs [${outputs.join(', ')}]`);
  }
}
