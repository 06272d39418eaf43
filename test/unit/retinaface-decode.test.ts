import type { RawTensor } from '../../src/detectors/detector';
import { RetinaFaceDetector, RetinaFaceManifest } from '../../src/detectors/retinaface-detector';
import { generatePriors, priorCount } from '../../src/detectors/ssd-priors';
import { loadManifest } from '../../src/models/registry';
import { codeOf } from '../support/error-code';

const manifest = loadManifest('retinaface') as RetinaFaceManifest;
const LEVELS = [{ stride: 8, sizes: [16, 32] }, { stride: 16, sizes: [64, 128] }, { stride: 32, sizes: [256, 512] }];

function outputs(n: number, set: (k: number, loc: Float32Array, conf: Float32Array, lm: Float32Array) => void): Record<string, RawTensor> {
  const loc = new Float32Array(n * 4);
  const conf = new Float32Array(n * 2);
  const lm = new Float32Array(n * 10);
  for (let k = 0; k < n; k++) conf[k * 2] = 1;
  set(0, loc, conf, lm);
  return { loc: { data: loc, dims: [1, n, 4] }, conf: { data: conf, dims: [1, n, 2] }, landmarks: { data: lm, dims: [1, n, 10] } };
}

describe('RetinaFace priors', () => {
  it('has 16,800 priors on 640² and the ceil sizes of an odd canvas (641×333 → 8,988, as onnxruntime outputs)', () => {
    expect(priorCount(640, 640, LEVELS)).toBe(16800);
    expect(priorCount(641, 333, LEVELS)).toBe(8988);
  });

  it('orders priors row-major with the two sizes innermost, centred at (j + 0.5)·step', () => {
    const p = generatePriors(640, 640, LEVELS);
    expect(Array.from(p.subarray(0, 8))).toEqual([4, 4, 16, 16, 4, 4, 32, 32]);
    expect(Array.from(p.subarray(8, 12))).toEqual([12, 4, 16, 16]);
    // First prior of row 1 of the stride-8 level: 80 positions × 2 sizes in.
    expect(Array.from(p.subarray(160 * 4, 160 * 4 + 4))).toEqual([4, 12, 16, 16]);
    // First prior of the stride-16 level.
    expect(Array.from(p.subarray(12800 * 4, 12800 * 4 + 4))).toEqual([8, 8, 64, 64]);
  });
});

describe('RetinaFace decode', () => {
  const detector = new RetinaFaceDetector({ manifest });
  const n = detector.priorCount;

  it('decodes deltas with variances 0.1 and 0.2 and maps boxes and landmarks through the letterbox', () => {
    // Prior 1: centre (4, 4), side 32.
    const out = outputs(n, (_, loc, conf, lm) => {
      conf[2 + 1] = 0.9;
      loc.set([1, -1, Math.log(2) / 0.2, 0], 4);
      lm.set([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], 10);
    });
    const [face] = detector.decode(out, 0, { width: 1280, height: 1280, scale: 0.5, padX: 0, padY: 0 }, detector.defaults);
    // cx = 4 + 1·0.1·32 = 7.2, cy = 0.8, w = 64, h = 32 → canvas [-24.8, -15.2, 39.2, 16.8], ×2 for the original.
    [-49.6, -30.4, 78.4, 33.6].forEach((v, i) => expect(face.box[i]).toBeCloseTo(v, 4));
    expect(face.score).toBeCloseTo(0.9, 6);
    expect(face.landmarks![0][0]).toBeCloseTo((4 + 3.2) * 2, 4);
    expect(face.landmarks![1][1]).toBeCloseTo((4 + 3.2) * 2, 4);
  });

  it('keeps scores strictly above the threshold, suppresses overlaps at IoU 0.4, and caps', () => {
    const out = outputs(n, (_, loc, conf) => {
      conf[0 * 2 + 1] = 0.95; // prior 0: (4, 4) side 16
      conf[2 * 2 + 1] = 0.9; // prior 2: (12, 4) side 16, moved onto prior 0 by its delta: suppressed
      loc[2 * 4] = (4 - 12) / (0.1 * 16);
      conf[1 * 2 + 1] = 0.8; // prior 1: (4, 4) side 32, pixel-inclusive IoU with prior 0 = 289/1089: kept
      conf[40 * 2 + 1] = 0.7; // exactly the threshold: dropped
    });
    const faces = detector.decodeCanvas(out, 0, { ...detector.defaults, scoreThreshold: 0.7 });
    expect(faces.map((f) => f.score.toFixed(2))).toEqual(['0.95', '0.80']);
    expect(detector.decodeCanvas(out, 0, { ...detector.defaults, scoreThreshold: 0.5, maxDetections: 1 })).toHaveLength(1);
  });

  it('refuses outputs of another canvas with E_MODEL', () => {
    const small = new RetinaFaceDetector({ manifest, canvas: 320 });
    expect(codeOf(() => small.decode(outputs(n, () => undefined), 0, { width: 1, height: 1, scale: 1, padX: 0, padY: 0 }, small.defaults))).toBe('E_MODEL');
    expect(codeOf(() => new RetinaFaceDetector({ manifest, canvas: 16 }))).toBe('E_CONFIG');
  });
});
