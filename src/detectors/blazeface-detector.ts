import { FacefleetError } from '../errors';
import type { ModelManifest } from './model-manifest';
import { BLAZEFACE_BACK_ANCHOR_OPTIONS, generateSsdAnchors, SsdAnchors } from './blazeface-anchors';
import type { DecodeOptions, Detector, Face, InputContract, Letterbox, RawTensor } from './detector';
import { Candidate, topK, weightedNms } from './nms';

/**
 * Default decode settings. NMS is MediaPipe's for this model (`face_detection_back_desktop_live.pbtxt`):
 * weighted, `min_suppression_threshold: 0.3`. The score threshold is raised from MediaPipe's 0.65 to
 * 0.8, measured on the shared fixtures: frontal faces score 0.88–0.92, while face-free photos reach
 * 0.74 (a cat's face) and 0.66 (a coffee cup), which 0.65 would report. The cost is the profile face
 * of `cameraman-gray.png` (0.77).
 */
export const BLAZEFACE_DEFAULTS: Readonly<DecodeOptions> = Object.freeze({
  scoreThreshold: 0.8,
  iouThreshold: 0.3,
  preNmsTopK: 100,
  maxDetections: 100,
});

/** Raw logits are clipped to ±this before the sigmoid (MediaPipe's `score_clipping_thresh`). */
const SCORE_CLIP = 100;
/** Values per anchor in the box outputs: box centre and size, then 6 keypoints (x, y). */
const COORDS = 16;
const KEYPOINTS = 6;

/** Settings of a {@link BlazeFaceDetector}. */
export interface BlazeFaceDetectorOptions {
  /** The model's registry manifest (`loadManifest('blazeface')`): id, version, input contract, outputs. */
  manifest: ModelManifest;
  /**
   * Whether the loaded ONNX file accepts batches (`pullBlazeFace(...).dynamicBatch`).
   * @defaultValue `false`
   */
  dynamicBatch?: boolean;
  /** Overrides of {@link BLAZEFACE_DEFAULTS}. */
  defaults?: Partial<DecodeOptions>;
}

/** Which score and box tensors belong to one anchor group. */
interface Head {
  scores: string;
  boxes: string;
  start: number;
  count: number;
}

/**
 * MediaPipe BlazeFace, back-camera model (256 × 256, 896 anchors, 6 keypoints). Input: NHWC RGB in
 * [-1, 1] (mean 127.5, std 127.5), letterboxed with black padding (0, 0, 0), as MediaPipe's
 * `ImageTransformationCalculator` in FIT mode pads. Decoding follows MediaPipe's
 * `TensorsToDetectionsCalculator` (sigmoid of logits clipped to ±100; box and keypoint offsets in
 * canvas pixels, scale 256, relative to unit-size anchors) and its `WEIGHTED` NMS. Returned boxes are
 * clipped to the image; keypoints are not.
 */
export class BlazeFaceDetector implements Detector {
  readonly id: string;
  readonly version: string;
  readonly input: InputContract;
  readonly outputNames: readonly string[];
  readonly dynamicBatch: boolean;
  readonly defaults: DecodeOptions;
  /** MediaPipe's `x_scale`, `y_scale`, `w_scale`, `h_scale`: the canvas size the offsets are given in. */
  private readonly scaleX: number;
  private readonly scaleY: number;
  private readonly anchors: SsdAnchors;
  private readonly heads: Head[];

  /** Throws `FacefleetError('E_MODEL')` when the manifest's outputs do not match the anchor layout. */
  constructor(options: BlazeFaceDetectorOptions) {
    const { manifest } = options;
    this.id = manifest.id;
    this.version = manifest.version;
    this.input = Object.freeze({ ...manifest.input });
    this.outputNames = Object.freeze(manifest.outputs.map((o) => o.name));
    this.dynamicBatch = options.dynamicBatch ?? false;
    this.defaults = Object.freeze({ ...BLAZEFACE_DEFAULTS, ...options.defaults });
    this.scaleX = this.input.width;
    this.scaleY = this.input.height;
    this.anchors = generateSsdAnchors({ ...BLAZEFACE_BACK_ANCHOR_OPTIONS, inputWidth: this.input.width, inputHeight: this.input.height });
    // Outputs are matched to anchor groups by shape, so a model whose outputs disagree with the
    // anchor layout fails here rather than decoding garbage.
    const find = (count: number, width: number): string => {
      const match = manifest.outputs.find((o) => o.shape.length === 3 && o.shape[1] === count && o.shape[2] === width);
      if (!match) throw new FacefleetError('E_MODEL', `${manifest.id}: no output shaped [batch, ${count}, ${width}]`);
      return match.name;
    };
    this.heads = this.anchors.groups.map((g) => ({ scores: find(g.count, 1), boxes: find(g.count, COORDS), start: g.start, count: g.count }));
  }

  /** Faces of image `index` of the batch, in original pixels, best first. */
  decode(outputs: Record<string, RawTensor>, index: number, letterbox: Letterbox, options: DecodeOptions): Face[] {
    const candidates: Candidate[] = [];
    const { width: canvasW, height: canvasH } = this.input;
    const toX = (cx: number): number => (cx * canvasW - letterbox.padX) / letterbox.scale;
    const toY = (cy: number): number => (cy * canvasH - letterbox.padY) / letterbox.scale;
    const centers = this.anchors.centers;

    for (const head of this.heads) {
      const scores = this.tensor(outputs, head.scores, index, head.count, 1);
      const boxes = this.tensor(outputs, head.boxes, index, head.count, COORDS);
      const sBase = index * head.count;
      const bBase = index * head.count * COORDS;
      for (let a = 0; a < head.count; a++) {
        const logit = Math.min(SCORE_CLIP, Math.max(-SCORE_CLIP, scores.data[sBase + a]));
        const score = 1 / (1 + Math.exp(-logit));
        if (!(score >= options.scoreThreshold)) continue;
        const ax = centers[(head.start + a) * 2];
        const ay = centers[(head.start + a) * 2 + 1];
        const p = bBase + a * COORDS;
        const cx = ax + boxes.data[p] / this.scaleX;
        const cy = ay + boxes.data[p + 1] / this.scaleY;
        const w = boxes.data[p + 2] / this.scaleX;
        const h = boxes.data[p + 3] / this.scaleY;
        if (!(w > 0 && h > 0)) continue;
        const landmarks: Array<[number, number]> = [];
        for (let k = 0; k < KEYPOINTS; k++) {
          const q = p + 4 + k * 2;
          landmarks.push([toX(ax + boxes.data[q] / this.scaleX), toY(ay + boxes.data[q + 1] / this.scaleY)]);
        }
        candidates.push({ box: [toX(cx - w / 2), toY(cy - h / 2), toX(cx + w / 2), toY(cy + h / 2)], score, landmarks });
      }
    }

    const kept = weightedNms(topK(candidates, options.preNmsTopK), options.iouThreshold, options.maxDetections);
    const faces: Face[] = [];
    for (const c of kept) {
      const [x1, y1, x2, y2] = c.box;
      const box: Face['box'] = [
        clamp(x1, 0, letterbox.width),
        clamp(y1, 0, letterbox.height),
        clamp(x2, 0, letterbox.width),
        clamp(y2, 0, letterbox.height),
      ];
      if (box[2] <= box[0] || box[3] <= box[1]) continue;
      faces.push({ box, score: c.score, ...(c.landmarks ? { landmarks: c.landmarks } : {}) });
    }
    return faces;
  }

  /** The named output, checked to be `[batch > index, count, width]`. */
  private tensor(outputs: Record<string, RawTensor>, name: string, index: number, count: number, width: number): RawTensor {
    const t = outputs[name];
    if (!t) throw new FacefleetError('E_INFERENCE', `${this.id}: output ${name} is missing`);
    const [batch, n, w] = t.dims;
    if (t.dims.length !== 3 || n !== count || w !== width || !(index >= 0 && index < batch) || t.data.length < batch * count * width) {
      throw new FacefleetError('E_INFERENCE', `${this.id}: output ${name} has dims [${t.dims.join(', ')}], image ${index} of [batch, ${count}, ${width}] requested`);
    }
    return t;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
