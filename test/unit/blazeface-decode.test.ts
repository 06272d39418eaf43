import { BLAZEFACE_DEFAULTS, BlazeFaceDetector } from '../../src/detectors/blazeface-detector';
import { DecodeOptions, Letterbox, RawTensor } from '../../src/detectors/detector';
import { FacefleetError } from '../../src/errors';
import type { ModelManifest } from '../../src/detectors/model-manifest';

const manifest: ModelManifest = {
  id: 'blazeface',
  version: 'test',
  source: 'example@1.0.0',
  integrity: 'sha512-AAAA',
  file: 'package/m.onnx',
  license: 'Apache-2.0',
  input: {
    name: 'input:0', width: 256, height: 256, layout: 'NHWC', colorOrder: 'RGB',
    mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], padValue: [0, 0, 0],
  },
  outputs: [
    { name: 's16', shape: ['batch', 512, 1] },
    { name: 's32', shape: ['batch', 384, 1] },
    { name: 'b16', shape: ['batch', 512, 16] },
    { name: 'b32', shape: ['batch', 384, 16] },
  ],
};
const detector = new BlazeFaceDetector({ manifest, dynamicBatch: true });
const IDENTITY: Letterbox = { width: 256, height: 256, scale: 1, padX: 0, padY: 0 };
const OPTS: DecodeOptions = { scoreThreshold: 0.5, iouThreshold: 0.3, preNmsTopK: 100, maxDetections: 100 };

/** Outputs for `batch` images with every logit at -100; `set` fills one anchor of one layer. */
function outputs(batch = 1) {
  const t = (n: number, w: number, fill = 0): RawTensor => ({ data: new Float32Array(batch * n * w).fill(fill), dims: [batch, n, w] });
  const tensors: Record<string, RawTensor> = { s16: t(512, 1, -100), s32: t(384, 1, -100), b16: t(512, 16), b32: t(384, 16) };
  const set = (image: number, layer: 16 | 32, anchor: number, logit: number, deltas: number[]) => {
    const n = layer === 16 ? 512 : 384;
    tensors[`s${layer}`].data[image * n + anchor] = logit;
    tensors[`b${layer}`].data.set(deltas, (image * n + anchor) * 16);
  };
  return { tensors, set };
}

/** Box deltas (dx, dy, w, h) followed by keypoint k at (k, -k) relative to the anchor. */
function deltas(dx: number, dy: number, w: number, h: number): number[] {
  const kp = [0, 1, 2, 3, 4, 5].flatMap((k) => [k, -k]);
  return [dx, dy, w, h, ...kp];
}

describe('BlazeFaceDetector decode', () => {
  it('exposes the contract: id, version, outputs in manifest order, MediaPipe NMS defaults', () => {
    expect(detector.id).toBe('blazeface');
    expect(detector.version).toBe('test');
    expect(detector.outputNames).toEqual(['s16', 's32', 'b16', 'b32']);
    expect(detector.dynamicBatch).toBe(true);
    expect(detector.defaults).toEqual(BLAZEFACE_DEFAULTS);
    expect(detector.defaults.iouThreshold).toBe(0.3);
    expect(new BlazeFaceDetector({ manifest }).dynamicBatch).toBe(false);
  });

  it('decodes a stride-16 anchor: centre = anchor + offset / 256, size = raw / 256, in canvas pixels', () => {
    const { tensors, set } = outputs();
    // Row 5, column 7, second anchor of the cell: centre (7.5/16, 5.5/16) → (120, 88) on the canvas.
    set(0, 16, (5 * 16 + 7) * 2 + 1, 2, deltas(4, -8, 40, 50));
    const faces = detector.decode(tensors, 0, IDENTITY, OPTS);
    expect(faces).toHaveLength(1);
    [104, 55, 144, 105].forEach((v, i) => expect(faces[0].box[i]).toBeCloseTo(v, 4));
    expect(faces[0].score).toBeCloseTo(1 / (1 + Math.exp(-2)), 7);
    expect(faces[0].landmarks).toHaveLength(6);
    faces[0].landmarks!.forEach(([x, y], k) => {
      expect(x).toBeCloseTo(120 + k, 4);
      expect(y).toBeCloseTo(88 - k, 4);
    });
  });

  it('decodes a stride-32 anchor from the second pair of outputs', () => {
    const { tensors, set } = outputs();
    // Row 2, column 3, fifth anchor: centre (3.5/8, 2.5/8) → (112, 80).
    set(0, 32, (2 * 8 + 3) * 6 + 4, 3, deltas(-2, 6, 64, 80));
    const [face] = detector.decode(tensors, 0, IDENTITY, OPTS);
    [78, 46, 142, 126].forEach((v, i) => expect(face.box[i]).toBeCloseTo(v, 4));
  });

  it('maps canvas pixels back through the letterbox: (c - pad) / scale', () => {
    const { tensors, set } = outputs();
    set(0, 16, (5 * 16 + 7) * 2 + 1, 2, deltas(4, 12, 40, 50)); // canvas box [104, 75, 144, 125]
    // A 512×256 image scaled by 0.5 to 256×128 and centred vertically (padY 64).
    const letterbox: Letterbox = { width: 512, height: 256, scale: 0.5, padX: 0, padY: 64 };
    const [face] = detector.decode(tensors, 0, letterbox, OPTS);
    [208, 22, 288, 122].forEach((v, i) => expect(face.box[i]).toBeCloseTo(v, 3));
    expect(face.landmarks![0][0]).toBeCloseTo(240, 3);
    expect(face.landmarks![0][1]).toBeCloseTo((88 - 64) * 2, 3);
  });

  it('clips boxes to the image but leaves keypoints as decoded', () => {
    const { tensors, set } = outputs();
    set(0, 16, 0, 2, deltas(0, 0, 40, 40)); // anchor (8, 8): box [-12, -12, 28, 28]
    const [face] = detector.decode(tensors, 0, IDENTITY, OPTS);
    expect(face.box).toEqual([0, 0, 28, 28]);
    expect(face.landmarks![5][1]).toBeCloseTo(3, 4);
  });

  it('keeps a score equal to the threshold and drops it just above', () => {
    const { tensors, set } = outputs();
    set(0, 16, 100, 0, deltas(0, 0, 30, 30)); // sigmoid(0) = 0.5 exactly
    expect(detector.decode(tensors, 0, IDENTITY, { ...OPTS, scoreThreshold: 0.5 })).toHaveLength(1);
    expect(detector.decode(tensors, 0, IDENTITY, { ...OPTS, scoreThreshold: 0.5 + 1e-9 })).toHaveLength(0);
  });

  it('clips logits to ±100 before the sigmoid (a huge negative logit keeps sigmoid(-100), not 0)', () => {
    const { tensors, set } = outputs();
    set(0, 16, 100, -1e6, deltas(0, 0, 30, 30));
    const [face] = detector.decode(tensors, 0, IDENTITY, { ...OPTS, scoreThreshold: 1e-44 });
    expect(face.score).toBeCloseTo(1 / (1 + Math.exp(100)), 50);
    set(0, 16, 100, 1e6, deltas(0, 0, 30, 30));
    expect(detector.decode(tensors, 0, IDENTITY, OPTS)[0].score).toBe(1);
  });

  it('merges overlapping candidates with weighted NMS: score-weighted box, best score', () => {
    const { tensors, set } = outputs();
    const a = (5 * 16 + 7) * 2;
    set(0, 16, a, Math.log(3), deltas(0, 0, 40, 40)); // score 0.75, box [100, 68, 140, 108]
    set(0, 16, a + 1, Math.log(1), deltas(4, 0, 40, 40)); // score 0.5, box [104, 68, 144, 108]
    set(0, 32, 0, 2, deltas(0, 0, 20, 20)); // far away: its own face
    const faces = detector.decode(tensors, 0, IDENTITY, OPTS);
    expect(faces).toHaveLength(2);
    expect(faces[0].score).toBeCloseTo(0.880797, 5);
    expect(faces[1].score).toBeCloseTo(0.75, 6);
    expect(faces[1].box[0]).toBeCloseTo((100 * 0.75 + 104 * 0.5) / 1.25, 4);
    expect(faces[1].box[2]).toBeCloseTo((140 * 0.75 + 144 * 0.5) / 1.25, 4);
  });

  it('reads image `index` of a batched output and nothing from the other images', () => {
    const { tensors, set } = outputs(3);
    set(2, 16, 40, 2, deltas(0, 0, 30, 30));
    set(0, 32, 10, 2, deltas(0, 0, 30, 30));
    expect(detector.decode(tensors, 1, IDENTITY, OPTS)).toHaveLength(0);
    const [two] = detector.decode(tensors, 2, IDENTITY, OPTS);
    // Anchor 40: row 1, column 4 → centre (72, 24).
    [57, 9, 87, 39].forEach((v, i) => expect(two.box[i]).toBeCloseTo(v, 4));
    expect(detector.decode(tensors, 0, IDENTITY, OPTS)).toHaveLength(1);
  });

  it('applies maxDetections and preNmsTopK', () => {
    const { tensors, set } = outputs();
    for (let i = 0; i < 5; i++) set(0, 32, i * 60, 1 + i, deltas(0, 0, 10, 10));
    expect(detector.decode(tensors, 0, IDENTITY, { ...OPTS, maxDetections: 2 })).toHaveLength(2);
    const top = detector.decode(tensors, 0, IDENTITY, { ...OPTS, preNmsTopK: 1 });
    expect(top).toHaveLength(1);
    expect(top[0].score).toBeCloseTo(1 / (1 + Math.exp(-5)), 6);
  });

  it('rejects a batch index out of range, a missing output and wrong dims with E_INFERENCE', () => {
    const { tensors } = outputs(2);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof FacefleetError ? err.code : 'other';
      }
      return 'none';
    };
    expect(code(() => detector.decode(tensors, 2, IDENTITY, OPTS))).toBe('E_INFERENCE');
    expect(code(() => detector.decode({ ...tensors, b32: undefined as unknown as RawTensor }, 0, IDENTITY, OPTS))).toBe('E_INFERENCE');
    const wrong = { ...tensors, s16: { data: new Float32Array(896), dims: [1, 896, 1] } };
    expect(code(() => detector.decode(wrong, 0, IDENTITY, OPTS))).toBe('E_INFERENCE');
  });

  it('refuses a manifest whose outputs do not match the anchor layout (E_MODEL)', () => {
    const bad = { ...manifest, outputs: manifest.outputs.filter((o) => o.name !== 'b32') };
    expect(() => new BlazeFaceDetector({ manifest: bad })).toThrow(expect.objectContaining({ code: 'E_MODEL' }));
  });
});
