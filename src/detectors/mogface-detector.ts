import { FacefleetError } from '../errors';
import { DecodeOptions, Detector, Face, InputContract, Letterbox, RawTensor } from './detector';
import { AnchorCache, anchorCount } from './mogface-anchors';
import { MogFaceManifest } from './mogface-manifest';
import type { Candidate } from './nms';
import { decodeBox, DeltaCoding, priorOutput, selectAndSuppress } from './ssd-priors';

/** Shape information of one session input or output (onnxruntime's `ValueMetadata`, structurally). */
export interface SessionValueInfo {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

/** Canvas size in pixels; a number means a square canvas. */
export type CanvasSize = number | { width: number; height: number };

const CONF = 'conf';
const LOC = 'loc';
/** MogFace deltas carry no variances; corners are pixel-inclusive (shared/MOGFACE.md §5). */
const MOGFACE_CODING: DeltaCoding = { variances: [1, 1], pixelInclusive: true };

/**
 * MogFace (CVPR 2022, ResNet-101) on a letterboxed canvas. Input: NCHW float32, RGB,
 * `(v - mean) / std` with the manifest's values; padding is the mean, i.e. 0 after normalisation.
 * Output decoding follows shared/MOGFACE.md §4–§6: one square anchor per position, deltas without
 * variances, pixel-inclusive corners, score threshold (strictly greater), pre-NMS top-k, greedy
 * pixel-inclusive NMS, a cap. Departures from the reference: boxes are mapped back through the
 * letterbox instead of divided by a shrink factor, and scores are never divided (the reference
 * divides them too, a defect). Boxes are not clipped, as in the reference.
 */
export class MogFaceDetector implements Detector {
  readonly id = 'mogface';
  readonly version: string;
  readonly input: InputContract;
  readonly outputNames: readonly string[] = [CONF, LOC];
  readonly dynamicBatch: boolean;
  readonly defaults: DecodeOptions;
  /** Anchors (one per position) of the configured canvas. */
  readonly anchorCount: number;
  private readonly anchors: AnchorCache;

  /**
   * @param manifest - the validated model manifest (see `parseMogFaceManifest`).
   * @param canvas - canvas that every image is letterboxed to, in pixels.
   *   @defaultValue the manifest's `input.defaultCanvas` (640)
   */
  constructor(
    private readonly manifest: MogFaceManifest,
    canvas: CanvasSize = manifest.input.defaultCanvas,
  ) {
    const { width, height } = typeof canvas === 'number' ? { width: canvas, height: canvas } : canvas;
    for (const [field, v] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new FacefleetError('E_CONFIG', `mogface canvas ${field}: expected a positive integer, got ${v}`);
      }
    }
    const { input, decode, anchors } = manifest;
    this.version = manifest.version;
    this.input = {
      name: input.name,
      width,
      height,
      layout: input.layout,
      colorOrder: input.colorOrder,
      mean: [...input.mean],
      std: [...input.std],
      // The mean normalises to exactly 0, like zero padding of the reference's convolutions.
      padValue: [...input.mean],
    };
    this.dynamicBatch = typeof input.shape[0] === 'string';
    this.defaults = {
      scoreThreshold: decode.scoreThreshold,
      iouThreshold: decode.iouThreshold,
      preNmsTopK: decode.preNmsTopK,
      maxDetections: decode.maxDetections,
    };
    this.anchors = new AnchorCache(anchors);
    this.anchorCount = anchorCount(height, width, anchors.strides);
  }

  /**
   * Checks a loaded session against the manifest: input and output names, and, when the session
   * reports them, element types and fixed dimensions. Throws `FacefleetError('E_MODEL')` naming
   * every mismatch, so a wrong model file stops the process before it takes a job.
   */
  checkSessionShapes(
    inputNames: readonly string[],
    outputNames: readonly string[],
    inputMetadata: readonly SessionValueInfo[] = [],
    outputMetadata: readonly SessionValueInfo[] = [],
  ): void {
    const problems: string[] = [];
    if (!inputNames.includes(this.input.name)) {
      problems.push(`input '${this.input.name}' not in session inputs [${inputNames.join(', ')}]`);
    }
    for (const name of this.outputNames) {
      if (!outputNames.includes(name)) problems.push(`output '${name}' not in session outputs [${outputNames.join(', ')}]`);
    }
    const expected: Array<[string, ReadonlyArray<number | string>]> = [
      [this.input.name, this.manifest.input.shape],
      ...this.manifest.outputs.map((o): [string, ReadonlyArray<number | string>] => [o.name, o.shape]),
    ];
    for (const [name, want] of expected) {
      const info = [...inputMetadata, ...outputMetadata].find((m) => m.name === name);
      if (!info) continue;
      if (!info.isTensor) {
        problems.push(`'${name}' is not a tensor`);
        continue;
      }
      if (info.type !== undefined && info.type !== 'float32') problems.push(`'${name}' has type ${info.type}, expected float32`);
      const got = info.shape ?? [];
      if (got.length === 0) continue;
      if (got.length !== want.length) {
        problems.push(`'${name}' has rank ${got.length} [${got.join(', ')}], expected [${want.join(', ')}]`);
        continue;
      }
      // Only dimensions fixed on both sides can disagree; symbolic ones are checked at run time.
      want.forEach((w, i) => {
        if (typeof w === 'number' && typeof got[i] === 'number' && got[i] !== w) {
          problems.push(`'${name}' dim ${i} is ${got[i]}, expected ${w}`);
        }
      });
      if (name === this.input.name && this.dynamicBatch && typeof got[0] === 'number') {
        problems.push(`'${name}' has a fixed batch of ${got[0]}, the manifest declares it dynamic`);
      }
    }
    if (problems.length > 0) {
      throw new FacefleetError('E_MODEL', `mogface session does not match manifest ${this.version}: ${problems.join('; ')}`);
    }
  }

  /** Faces of image `index` of a batch, in original pixels ((c − pad) / scale), best first. */
  decode(outputs: Record<string, RawTensor>, index: number, letterbox: Letterbox, options: DecodeOptions): Face[] {
    return this.decodeCanvas(outputs, index, options).map((c) => ({
      box: [
        (c.box[0] - letterbox.padX) / letterbox.scale,
        (c.box[1] - letterbox.padY) / letterbox.scale,
        (c.box[2] - letterbox.padX) / letterbox.scale,
        (c.box[3] - letterbox.padY) / letterbox.scale,
      ],
      score: c.score,
    }));
  }

  /** Faces of image `index` in canvas pixels, before the letterbox is undone, best first. */
  decodeCanvas(outputs: Record<string, RawTensor>, index: number, options: DecodeOptions): Candidate[] {
    const conf = this.tensor(outputs, CONF, 1);
    const loc = this.tensor(outputs, LOC, 4);
    const batch = conf.dims[0];
    if (loc.dims[0] !== batch) throw this.shapeError(`conf batch ${batch} and loc batch ${loc.dims[0]} differ`);
    if (!Number.isInteger(index) || index < 0 || index >= batch) {
      throw new RangeError(`image index ${index} outside batch of ${batch}`);
    }
    const a = this.anchorCount;
    const anchors = this.anchors.get(this.input.height, this.input.width);
    const scoreBase = index * a;
    return selectAndSuppress(
      a,
      (k) => conf.data[scoreBase + k],
      (k, score) => ({ box: decodeBox(anchors, k, loc.data, (index * a + k) * 4, MOGFACE_CODING), score }),
      { ...options, pixelInclusive: true },
    );
  }

  private tensor(outputs: Record<string, RawTensor>, name: string, last: number): RawTensor {
    return priorOutput(outputs, name, this.anchorCount, last, this.input, (m) => this.shapeError(m));
  }

  private shapeError(message: string): FacefleetError {
    return new FacefleetError('E_MODEL', `mogface ${this.version}: ${message}`);
  }
}
