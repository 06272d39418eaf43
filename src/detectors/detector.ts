/** One detected face, in pixels of the upright (EXIF-oriented) original image. */
export interface Face {
  /** `[x1, y1, x2, y2]`, top-left and bottom-right corners. */
  box: [number, number, number, number];
  /** Confidence in [0, 1]. */
  score: number;
  /** Optional keypoints `[x, y]` (BlazeFace: right eye, left eye, nose, mouth, right ear, left ear). */
  landmarks?: Array<[number, number]>;
}

/**
 * How an image was placed on the model's canvas: scaled by `scale` and shifted by (`padX`, `padY`).
 * A canvas point (cx, cy) maps back to the original as ((cx - padX) / scale, (cy - padY) / scale).
 */
export interface Letterbox {
  /** Original (upright) width and height. */
  width: number;
  height: number;
  scale: number;
  padX: number;
  padY: number;
}

/** A raw output tensor as it comes back from the session. */
export interface RawTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** The preprocessing contract of a model's input. */
export interface InputContract {
  /** Input tensor name. */
  name: string;
  /** Canvas width and height that every image is letterboxed to. */
  width: number;
  height: number;
  /** Memory layout of the input tensor. */
  layout: 'NHWC' | 'NCHW';
  /** Channel order fed to the network. */
  colorOrder: 'RGB' | 'BGR';
  /**
   * Per-channel normalisation in the fed channel order, applied to 0–255 values: `(v - mean) / std`.
   */
  mean: [number, number, number];
  std: [number, number, number];
  /** Raw 0–255 value of the letterbox padding (per RGB channel). */
  padValue: [number, number, number];
}

/** Score and NMS settings of a detector; every field can be overridden in config. */
export interface DecodeOptions {
  /** Minimum score kept. */
  scoreThreshold: number;
  /** IoU above which overlapping boxes are suppressed (or merged, for weighted NMS). */
  iouThreshold: number;
  /** Candidates kept before NMS, best first. */
  preNmsTopK: number;
  /** Faces kept after NMS. */
  maxDetections: number;
}

/**
 * A model family: its input contract and how its raw outputs become faces. Implementations are pure
 * (no I/O); the session runs elsewhere (the inference thread).
 */
export interface Detector {
  /** Model id, e.g. `retinaface`, `blazeface` or `mogface`. */
  readonly id: string;
  /** Model version string (part of incremental-skip decisions). */
  readonly version: string;
  readonly input: InputContract;
  /** Output tensor names, in the order the session should return them. */
  readonly outputNames: readonly string[];
  /** Whether the ONNX graph accepts a batch larger than 1. */
  readonly dynamicBatch: boolean;
  /** Default decode settings. */
  readonly defaults: DecodeOptions;
  /**
   * Turns the outputs for image `index` of a batch into faces in original pixels, best first.
   */
  decode(outputs: Record<string, RawTensor>, index: number, letterbox: Letterbox, options: DecodeOptions): Face[];
}
