import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DecodeOptions, RawTensor } from '../../src/detectors/detector';
import { CanvasSize, MogFaceDetector } from '../../src/detectors/mogface-detector';
import { MogFaceManifest, parseMogFaceManifest } from '../../src/detectors/mogface-manifest';
import { SessionHost } from '../../src/inference/session-host';
import { WireTensor } from '../../src/inference/thread-protocol';
import { describeWith } from '../support/prerequisites';

/**
 * Exports the tiny MogFace variant with random weights (PyTorch, Debian's /usr/bin/python3), runs it
 * with onnxruntime-node in the project's inference thread (`SessionHost`), and checks: output shapes
 * against the TypeScript anchor count, batched outputs against single-image runs, and the TypeScript
 * decode against models/mogface/reference_decode.py. Runs go through the thread rather than a session
 * in the test itself because Jest's sandbox has its own `Float32Array`, which onnxruntime-node's
 * output tensors fail to match.
 */
const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
const torchAvailable = probe.status === 0;

function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'models', 'mogface', 'export.py'))) return dir;
  }
  throw new Error(`models/mogface/export.py not found above ${__dirname}`);
}

/** Deterministic 0–255 "images" with a letterbox band, normalised with the detector's contract. */
function makeBatch(detector: MogFaceDetector, n: number, seed: number): Float32Array {
  const { width, height, mean, std, padValue } = detector.input;
  const plane = width * height;
  const out = new Float32Array(n * 3 * plane);
  // Global lookups (Math.*) are slow inside Jest's vm sandbox: an xorshift with local state only.
  let x = seed | 1;
  for (let b = 0; b < n; b++) {
    const bandEnd = Math.floor(height * 0.1 * (b % 3)) * width;
    for (let c = 0; c < 3; c++) {
      const m = mean[c];
      const sd = std[c];
      const pad = (padValue[c] - m) / sd;
      const base = (b * 3 + c) * plane;
      for (let p = 0; p < plane; p++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        out[base + p] = p < bandEnd ? pad : ((x & 255) - m) / sd;
      }
    }
  }
  return out;
}

function slice(t: WireTensor, index: number): RawTensor {
  const [, a, c] = t.dims;
  const data = t.data.subarray(index * a * c, (index + 1) * a * c);
  return { data, dims: [1, a, c] };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describeWith({ name: `${PYTHON} with torch and numpy`, available: torchAvailable, install: 'Debian: apt-get install python3-torch python3-numpy python3-onnx' }, 'MogFace tiny export: onnxruntime-node vs anchors and the numpy reference', () => {
  const root = torchAvailable ? repoRoot() : '';
  let dir: string;
  let manifest: MogFaceManifest;
  let host: SessionHost;
  let onnxPath: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mogface-parity-'));
    onnxPath = path.join(dir, 'mogface-tiny.onnx');
    execFileSync(PYTHON, [path.join(root, 'models/mogface/export.py'), '--variant', 'tiny', '--random-init',
      '--seed', '7', '--output', onnxPath, '--sample', path.join(dir, 'sample')], { encoding: 'utf8', timeout: 120_000 });
    manifest = parseMogFaceManifest(JSON.parse(fs.readFileSync(`${onnxPath}.manifest.json`, 'utf8')));
    expect(manifest.sha256).toBe(createHash('sha256').update(fs.readFileSync(onnxPath)).digest('hex'));
    host = await SessionHost.start({ modelPath: onnxPath, intraOpThreads: 0, interOpThreads: 1, providers: ['cpu'], allowCpuFallback: false });
  });

  afterAll(async () => {
    await host?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a random-init manifest that says so', () => {
    expect(manifest).toMatchObject({ id: 'mogface', variant: 'tiny', randomInit: true, version: 'tiny-random-seed7' });
    expect(manifest.notes).toContain('random-init: not a detector');
  });

  it('matches the manifest: names and declared shapes', async () => {
    const detector = new MogFaceDetector(manifest, 320);
    const session = await ort.InferenceSession.create(onnxPath);
    try {
      expect(() =>
        detector.checkSessionShapes(session.inputNames, session.outputNames, session.inputMetadata, session.outputMetadata),
      ).not.toThrow();
      expect(session.outputMetadata).toEqual([
        expect.objectContaining({ name: 'conf', shape: ['batch', 'anchors', 1] }),
        expect.objectContaining({ name: 'loc', shape: ['batch', 'anchors', 4] }),
      ]);
    } finally {
      await session.release();
    }
  });

  it('computes what PyTorch computes (odd 150×246 input, batch 2, ≤1e-4)', async () => {
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'sample.json'), 'utf8')) as Record<string, WireTensor & { file: string }>;
    const read = (name: string): WireTensor => {
      const bytes = fs.readFileSync(path.join(dir, index[name].file));
      // Copy into a fresh, aligned buffer (file data is little-endian float32).
      const data = new Float32Array(bytes.byteLength / 4);
      new Uint8Array(data.buffer).set(bytes);
      return { data, dims: index[name].dims };
    };
    const input = read('input');
    const out = (await host.run({ input })).outputs;
    const detector = new MogFaceDetector(manifest, { width: 246, height: 150 });
    for (const name of ['conf', 'loc']) {
      const torchOut = read(name);
      expect(out[name].dims).toEqual([2, detector.anchorCount, name === 'conf' ? 1 : 4]);
      expect(out[name].dims).toEqual(torchOut.dims);
      expect(maxAbsDiff(out[name].data, torchOut.data)).toBeLessThanOrEqual(1e-4);
    }
  });

  // Batch 8 is compared with single runs of its first, a middle and its last image (each run of the
  // tiny model at 640 takes about a second on two cores).
  const cases: Array<[CanvasSize, number[]]> = [[320, [1, 2, 8]], [640, [1, 2, 8]], [{ width: 480, height: 360 }, [1, 2]]];
  for (const [canvas, batches] of cases) {
    const label = typeof canvas === 'number' ? `${canvas}x${canvas}` : `${canvas.width}x${canvas.height}`;

    it(`canvas ${label}: shapes equal the anchor count, batches ${batches.join('/')} equal single runs, decode equals the reference`, async () => {
      const detector = new MogFaceDetector(manifest, canvas);
      const { width, height } = detector.input;
      const maxBatch = Math.max(...batches);
      const input = makeBatch(detector, maxBatch, width * 31 + height);
      const per = 3 * width * height;
      // slice() copies: the host transfers the buffer to its thread.
      const run = async (from: number, n: number) =>
        (await host.run({ input: { data: input.slice(from * per, (from + n) * per), dims: [n, 3, height, width] } })).outputs;

      const checked = [...new Set([0, 1, Math.floor(maxBatch / 2) - 1, maxBatch - 1])];
      const singles = new Map<number, Record<string, WireTensor>>();
      for (const i of checked) singles.set(i, await run(i, 1));
      for (const n of batches) {
        const out = n === 1 ? singles.get(0)! : await run(0, n);
        expect(out.conf.dims).toEqual([n, detector.anchorCount, 1]);
        expect(out.loc.dims).toEqual([n, detector.anchorCount, 4]);
        for (const i of checked.filter((k) => k < n)) {
          for (const name of ['conf', 'loc'] as const) {
            expect(maxAbsDiff(slice(out[name], i).data, singles.get(i)![name].data)).toBeLessThanOrEqual(1e-4);
          }
        }
      }

      const settings: DecodeOptions[] = [
        { scoreThreshold: 0.3, iouThreshold: 0.4, preNmsTopK: 5000, maxDetections: 750 },
        { scoreThreshold: 0.0, iouThreshold: 0.3, preNmsTopK: 300, maxDetections: 50 },
      ];
      for (const [image, opts] of [[0, settings[0]], [1, settings[1]]] as const) {
        const conf = slice(singles.get(image)!.conf, 0);
        const loc = slice(singles.get(image)!.loc, 0);
        const ours = detector.decodeCanvas({ conf, loc }, 0, opts);
        const rawPath = path.join(dir, `raw-${label}-${image}.json`);
        fs.writeFileSync(rawPath, JSON.stringify({
          conf: { dims: conf.dims, data: Array.from(conf.data) },
          loc: { dims: loc.dims, data: Array.from(loc.data) },
        }));
        const stdout = execFileSync(PYTHON, [path.join(root, 'models/mogface/reference_decode.py'), '--raw-json', rawPath,
          '--height', String(height), '--width', String(width), '--score', String(opts.scoreThreshold),
          '--nms', String(opts.iouThreshold), '--topk', String(opts.preNmsTopK), '--keep', String(opts.maxDetections)],
        { encoding: 'utf8', maxBuffer: 64 << 20 });
        const theirs = JSON.parse(stdout) as Array<{ box: number[]; score: number }>;
        expect(ours.length).toBeGreaterThan(0);
        expect(ours.length).toBe(theirs.length);
        ours.forEach((face, k) => {
          expect(Math.abs(face.score - theirs[k].score)).toBeLessThanOrEqual(1e-6);
          face.box.forEach((v, j) => expect(Math.abs(v - theirs[k].box[j])).toBeLessThanOrEqual(1e-3));
        });
      }
    });
  }
});
