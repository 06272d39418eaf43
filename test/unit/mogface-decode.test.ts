import { DecodeOptions, RawTensor } from '../../src/detectors/detector';
import { MogFaceDetector } from '../../src/detectors/mogface-detector';
import { MogFaceManifest, parseMogFaceManifest } from '../../src/detectors/mogface-manifest';
import { FacefleetError } from '../../src/errors';

function manifestJson(): Record<string, unknown> {
  return {
    schemaVersion: 1, id: 'mogface', version: 'tiny-test', variant: 'tiny', randomInit: true,
    notes: ['random-init: not a detector'], file: 'm.onnx', sha256: 'a'.repeat(64), opset: 13, license: 'test',
    input: {
      name: 'input', dtype: 'float32', layout: 'NCHW', colorOrder: 'RGB', shape: ['batch', 3, 'height', 'width'],
      dynamicAxes: ['batch', 'height', 'width'], mean: [123.675, 116.28, 103.53],
      std: [58.395 * 255, 57.12 * 255, 57.375 * 255], defaultCanvas: 640,
    },
    anchors: { strides: [4, 8, 16, 32, 64, 128], bases: [16, 32, 64, 128, 256, 512], scale: 0.68, perPosition: 1 },
    outputs: [{ name: 'conf', shape: ['batch', 'anchors', 1] }, { name: 'loc', shape: ['batch', 'anchors', 4] }],
    decode: { scoreThreshold: 0.82, iouThreshold: 0.4, preNmsTopK: 5000, maxDetections: 750, pixelInclusive: true },
  };
}

const manifest: MogFaceManifest = parseMogFaceManifest(manifestJson());
/** A 64×64 canvas: levels 16², 8², 4², 2², 1², 1² → 342 anchors; stride-8 level starts at 256. */
const detector = new MogFaceDetector(manifest, 64);
const A = 342;
const IDENTITY = { width: 64, height: 64, scale: 1, padX: 0, padY: 0 };
const OPTS: DecodeOptions = { scoreThreshold: 0.5, iouThreshold: 0.4, preNmsTopK: 5000, maxDetections: 750 };

/** Zero outputs for `batch` images; `set(image, anchor, score, deltas)` fills one anchor. */
function outputs(batch = 1) {
  const conf: RawTensor = { data: new Float32Array(batch * A), dims: [batch, A, 1] };
  const loc: RawTensor = { data: new Float32Array(batch * A * 4), dims: [batch, A, 4] };
  const set = (image: number, anchor: number, score: number, d: number[] = [0, 0, 0, 0]) => {
    conf.data[image * A + anchor] = score;
    loc.data.set(d, (image * A + anchor) * 4);
  };
  return { tensors: { conf, loc }, set };
}

describe('MogFaceDetector decode', () => {
  it('decodes one anchor with the spec formula (stride 8, row 2, column 3)', () => {
    const { tensors, set } = outputs();
    set(0, 256 + 2 * 8 + 3, 0.9, [0.1, -0.2, Math.log(2), 0]);
    const [face, ...rest] = detector.decode(tensors, 0, IDENTITY, OPTS);
    expect(rest).toHaveLength(0);
    // Anchor (28, 20, 21.76, 21.76) → centre (30.176, 15.648), size (43.52, 21.76), inclusive corners.
    const f32 = (v: number) => Math.fround(v);
    const cx = 28 + f32(0.1) * 21.76;
    const cy = 20 + f32(-0.2) * 21.76;
    const w = 21.76 * Math.exp(f32(Math.log(2)));
    const expected = [cx - (w - 1) / 2, cy - 10.38, cx - (w - 1) / 2 + w - 1, cy - 10.38 + 20.76];
    face.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 9));
    expect(face.box[0]).toBeCloseTo(8.916, 5);
    expect(face.box[3]).toBeCloseTo(26.028, 5);
    expect(face.score).toBeCloseTo(0.9, 7);
  });

  it('maps canvas boxes back through the letterbox: (c - pad) / scale', () => {
    const { tensors, set } = outputs();
    set(0, 0, 0.9);
    const [canvas] = detector.decodeCanvas(tensors, 0, OPTS);
    const [face] = detector.decode(tensors, 0, { width: 200, height: 100, scale: 0.25, padX: 0, padY: 7 }, OPTS);
    expect(face.box).toEqual([canvas.box[0] / 0.25, (canvas.box[1] - 7) / 0.25, canvas.box[2] / 0.25, (canvas.box[3] - 7) / 0.25]);
  });

  it('reads the requested image of a batch', () => {
    const { tensors, set } = outputs(3);
    set(2, 300, 0.95);
    expect(detector.decode(tensors, 0, IDENTITY, OPTS)).toHaveLength(0);
    expect(detector.decode(tensors, 2, IDENTITY, OPTS)).toHaveLength(1);
    expect(() => detector.decode(tensors, 3, IDENTITY, OPTS)).toThrow(RangeError);
  });

  it('keeps only scores strictly above the threshold', () => {
    const { tensors, set } = outputs();
    set(0, 10, 0.5);
    set(0, 200, Math.fround(0.51));
    const faces = detector.decode(tensors, 0, IDENTITY, OPTS);
    expect(faces.map((f) => f.score)).toEqual([Math.fround(0.51)]);
  });

  it('keeps the best pre-NMS top-k, then caps after NMS', () => {
    const { tensors, set } = outputs();
    const far = [0, 5, 10, 15]; // stride-4 anchors 20 px apart: no overlap
    far.forEach((j, k) => set(0, j, 0.6 + 0.1 * k));
    const top2 = detector.decode(tensors, 0, IDENTITY, { ...OPTS, preNmsTopK: 2 });
    expect(top2.map((f) => f.score)).toEqual([Math.fround(0.9), Math.fround(0.8)]);
    const capped = detector.decode(tensors, 0, IDENTITY, { ...OPTS, maxDetections: 3 });
    expect(capped.map((f) => f.score)).toEqual([Math.fround(0.9), Math.fround(0.8), Math.fround(0.7)]);
  });

  it('suppresses with pixel-inclusive IoU (0.4148 inclusive, where exclusive would be 0.3741)', () => {
    const { tensors, set } = outputs();
    // Stride-4 neighbours, side 10.88, centres 4.5 px apart: inclusive IoU 6.38/15.38 > 0.4.
    set(0, 0, 0.9);
    set(0, 1, 0.8, [0.5 / 10.88, 0, 0, 0]);
    expect(detector.decode(tensors, 0, IDENTITY, OPTS).map((f) => f.score)).toEqual([Math.fround(0.9)]);
    expect(detector.decode(tensors, 0, IDENTITY, { ...OPTS, iouThreshold: 0.42 })).toHaveLength(2);
  });

  it('rejects outputs whose anchor count does not fit the canvas', () => {
    const bad = { conf: { data: new Float32Array(34125), dims: [1, 34125, 1] }, loc: { data: new Float32Array(34125 * 4), dims: [1, 34125, 4] } };
    expect(() => detector.decode(bad, 0, IDENTITY, OPTS)).toThrow(/expected \[N, 342, 1\] for a 64x64 canvas/);
    expect(() => detector.decode({ conf: bad.conf }, 0, IDENTITY, OPTS)).toThrow(FacefleetError);
  });
});

describe('MogFaceDetector contract', () => {
  it('feeds NCHW RGB with the manifest mean/std, padding with the mean', () => {
    const d = new MogFaceDetector(manifest, { width: 480, height: 360 });
    expect(d.input).toMatchObject({ name: 'input', width: 480, height: 360, layout: 'NCHW', colorOrder: 'RGB' });
    expect(d.input.padValue).toEqual(d.input.mean);
    expect(d.input.std[0]).toBeCloseTo(14890.725, 6);
    expect(d.dynamicBatch).toBe(true);
    expect(d.anchorCount).toBe(14430);
    expect(new MogFaceDetector(manifest).anchorCount).toBe(34125);
    expect(d.defaults).toEqual({ scoreThreshold: 0.82, iouThreshold: 0.4, preNmsTopK: 5000, maxDetections: 750 });
  });

  it('accepts a matching session and names every mismatch of a wrong one', () => {
    const tensor = (name: string, shape: Array<number | string>) => ({ name, isTensor: true, type: 'float32', shape });
    const good = [tensor('conf', ['batch', 'anchors', 1]), tensor('loc', ['batch', 'anchors', 4])];
    expect(() => detector.checkSessionShapes(['input'], ['conf', 'loc'], [tensor('input', ['batch', 3, 'h', 'w'])], good)).not.toThrow();
    let error: unknown;
    try {
      detector.checkSessionShapes(['image'], ['conf', 'loc'], [tensor('input', [1, 3, 640, 640])], [good[0], tensor('loc', ['b', 'a', 5])]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FacefleetError);
    expect((error as FacefleetError).code).toBe('E_MODEL');
    expect((error as Error).message).toMatch(/input 'input' not in session inputs \[image\]/);
    expect((error as Error).message).toMatch(/'loc' dim 2 is 5, expected 4/);
    expect((error as Error).message).toMatch(/fixed batch of 1/);
  });

  it('rejects a manifest naming the bad field', () => {
    const json = manifestJson();
    (json.anchors as Record<string, unknown>).strides = [4, 8, 12, 32, 64, 128];
    expect(() => parseMogFaceManifest(json)).toThrow(/anchors\.strides\.2: must be a power of two/);
    expect(() => new MogFaceDetector(manifest, 0)).toThrow(/canvas width: expected a positive integer, got 0/);
  });
});
