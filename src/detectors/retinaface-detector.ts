import { FacefleetError } from '../errors';
import type { ModelManifest } from './model-manifest';
import { DecodeOptions, Detector, Face, InputContract, Letterbox, RawTensor } from './detector';
import type { Candidate } from './nms';
import { decodeBox, DeltaCoding, PriorCache, priorCount, PriorLevelSpec, priorOutput, selectAndSuppress } from './ssd-priors';

/** The decode section of `models/retinaface/manifest.json`. */
export interface RetinaFaceDecodeSpec {
  /** Level strides in canvas pixels (8, 16, 32). */
  steps: number[];
  /** Prior sides per level in canvas pixels ((16, 32), (64, 128), (256, 512)). */
  minSizes: number[][];
  /** Centre and size variances (0.1, 0.2). */
  variances: [number, number];
  scoreThreshold: number;
  iouThreshold: number;
  preNmsTopK: number;
  maxDetections: number;
}

/** A RetinaFace manifest: the registry's fields plus the decode parameters. */
export interface RetinaFaceManifest extends ModelManifest {
  decode: RetinaFaceDecodeSpec;
}

/** Options of {@link RetinaFaceDetector}. */
export interface RetinaFaceOptions {
  manifest: RetinaFaceManifest;
  /**
   * Canvas side in pixels (the graph takes any height and width).
   * @defaultValue the manifest's `input.width` (640)
   */
  canvas?: number;
}

const LOC = 'loc';
const CONF = 'conf';
const LANDMARKS = 'landmarks';
const LANDMARK_POINTS = 5;

/**
 * RetinaFace (MobileNet-0.25, WIDER FACE) on a letterboxed canvas. Input: NCHW float32, BGR with the
 * means (104, 117, 123) subtracted and no scaling; padding is the mean, i.e. 0 after normalisation,
 * like the zero padding of the reference's convolutions. Decoding follows the reference repository
 * biubug6/Pytorch_Retinaface: priors as in `layers/functions/prior_box.py` (steps 8/16/32, two sizes
 * per position, sizes innermost), boxes and landmarks as `decode` and `decode_landm` in
 * `utils/box_utils.py` with variances (0.1, 0.2), and the flow of `detect.py`: score threshold, top-k,
 * NMS at IoU 0.4 with the pixel-inclusive areas of `utils/nms/py_cpu_nms.py`, then the cap. The
 * decode is done in canvas pixels rather than in canvas fractions scaled back, which is the same
 * arithmetic. Landmarks, as seen in the photo: left eye, right eye, nose, left and right mouth corner.
 */
export class RetinaFaceDetector implements Detector {
  readonly id = 'retinaface';
  readonly version: string;
  readonly input: InputContract;
  readonly outputNames: readonly string[] = [LOC, CONF, LANDMARKS];
  readonly dynamicBatch = true;
  readonly defaults: DecodeOptions;
  private readonly levels: PriorLevelSpec[];
  private readonly priors: PriorCache;
  private readonly coding: DeltaCoding;

  constructor(options: RetinaFaceOptions) {
    const { manifest } = options;
    const side = options.canvas ?? manifest.input.width;
    if (!Number.isInteger(side) || side < 32) {
      throw new FacefleetError('E_CONFIG', `retinaface canvas: expected an integer of at least 32 px, got ${side}`);
    }
    const { decode } = manifest;
    this.version = manifest.version;
    this.input = { ...manifest.input, width: side, height: side };
    this.levels = decode.steps.map((stride, i) => ({ stride, sizes: decode.minSizes[i] }));
    this.priors = new PriorCache(this.levels);
    this.coding = { variances: decode.variances, pixelInclusive: false };
    this.defaults = {
      scoreThreshold: decode.scoreThreshold,
      iouThreshold: decode.iouThreshold,
      preNmsTopK: decode.preNmsTopK,
      maxDetections: decode.maxDetections,
    };
  }

  /** Priors of this detector's canvas. */
  get priorCount(): number {
    return priorCount(this.input.height, this.input.width, this.levels);
  }

  /** Faces of image `index` of a batch, in original pixels ((c − pad) / scale), best first. */
  decode(outputs: Record<string, RawTensor>, index: number, letterbox: Letterbox, options: DecodeOptions): Face[] {
    const { scale, padX, padY } = letterbox;
    return this.decodeCanvas(outputs, index, options).map((c) => ({
      box: [(c.box[0] - padX) / scale, (c.box[1] - padY) / scale, (c.box[2] - padX) / scale, (c.box[3] - padY) / scale],
      score: c.score,
      ...(c.landmarks ? { landmarks: c.landmarks.map(([x, y]): [number, number] => [(x - padX) / scale, (y - padY) / scale]) } : {}),
    }));
  }

  /** Faces of image `index` in canvas pixels, before the letterbox is undone, best first. */
  decodeCanvas(outputs: Record<string, RawTensor>, index: number, options: DecodeOptions): Candidate[] {
    const n = this.priorCount;
    const loc = this.tensor(outputs, LOC, 4, n);
    const conf = this.tensor(outputs, CONF, 2, n);
    const lm = this.tensor(outputs, LANDMARKS, 2 * LANDMARK_POINTS, n);
    const batch = conf.dims[0];
    if (loc.dims[0] !== batch || lm.dims[0] !== batch) throw this.shapeError(`outputs disagree on the batch: ${loc.dims[0]}, ${batch}, ${lm.dims[0]}`);
    if (!Number.isInteger(index) || index < 0 || index >= batch) throw new RangeError(`image index ${index} outside batch of ${batch}`);
    const priors = this.priors.get(this.input.height, this.input.width);
    const [v0] = this.coding.variances;
    const base = index * n;
    return selectAndSuppress(
      n,
      (k) => conf.data[(base + k) * 2 + 1],
      (k, score) => {
        const p = k * 4;
        const d = (base + k) * 2 * LANDMARK_POINTS;
        const landmarks: Array<[number, number]> = [];
        for (let i = 0; i < LANDMARK_POINTS; i++) {
          landmarks.push([priors[p] + lm.data[d + 2 * i] * v0 * priors[p + 2], priors[p + 1] + lm.data[d + 2 * i + 1] * v0 * priors[p + 3]]);
        }
        return { box: decodeBox(priors, k, loc.data, (base + k) * 4, this.coding), score, landmarks };
      },
      { ...options, pixelInclusive: true },
    );
  }

  private tensor(outputs: Record<string, RawTensor>, name: string, last: number, priors: number): RawTensor {
    return priorOutput(outputs, name, priors, last, this.input, (m) => this.shapeError(m));
  }

  private shapeError(message: string): FacefleetError {
    return new FacefleetError('E_MODEL', `retinaface ${this.version}: ${message}`);
  }
}
