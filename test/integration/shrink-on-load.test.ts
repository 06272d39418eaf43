import fs from 'node:fs';
import sharp from 'sharp';
import { BlazeFaceDetector } from '../../src/detectors/blazeface-detector';
import type { Face } from '../../src/detectors/detector';
import { DetectionEngine } from '../../src/engine/detection-engine';
import type { PreparedImage } from '../../src/imaging/prepared-image';
import { letterboxImage } from '../../src/imaging/letterbox';
import { prepareImage } from '../../src/imaging/prepare-image';
import { SessionHost } from '../../src/inference/session-host';
import { pullBlazeFace } from '../../src/models/blazeface-pull';
import { resolveModelCacheDir } from '../../src/models/model-cache';
import { loadManifest } from '../../src/models/registry';
import { allFixtures } from '../support/fixtures';

/**
 * `prepareImage` lets libvips shrink a JPEG while decoding it (DCT scaling by 2, 4 or 8) when the
 * canvas is much smaller than the photo, instead of decoding every pixel and then resizing. The
 * canvas differs a little from a full decode; the faces found on it must not.
 */
describe('JPEG shrink-on-load', () => {
  const manifest = loadManifest('blazeface');
  let detector: BlazeFaceDetector;
  let host: SessionHost;
  let engine: DetectionEngine;
  const limits = { maxPixels: 100e6 };

  beforeAll(async () => {
    const pulled = await pullBlazeFace({ cacheDir: resolveModelCacheDir() });
    detector = new BlazeFaceDetector({ manifest, dynamicBatch: pulled.dynamicBatch });
    host = await SessionHost.start({ modelPath: pulled.modelPath, intraOpThreads: 0, interOpThreads: 1, providers: ['cpu'], allowCpuFallback: false });
    engine = new DetectionEngine(detector, host, { maxBatch: 1, maxWaitMs: 0, decode: detector.defaults });
  }, 300_000);

  afterAll(async () => {
    await engine?.close();
    await host?.close();
  });

  /** Every pixel decoded first, then the same letterbox from the raw pixels (no shrink-on-load possible). */
  async function fullDecode(body: Buffer): Promise<PreparedImage> {
    const { data, info } = await sharp(body).autoOrient().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const raw = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
    const { pixels, letterbox } = await letterboxImage(raw, manifest.input);
    return { pixels, letterbox, format: 'raw' };
  }

  function iou(a: Face['box'], b: Face['box']): number {
    const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
    const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    const inter = w * h;
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
  }

  function fixturePath(file: string): string {
    const entry = allFixtures().find((f) => f.file === file);
    if (!entry) throw new Error(`fixture ${file} not found`);
    return entry.path;
  }

  /** A large JPEG: the 1024² grid fixture scaled up to `side`, so the canvas is `side / 256` times smaller. */
  async function largeJpeg(side: number): Promise<Buffer> {
    return sharp(fs.readFileSync(fixturePath('astronaut-grid4.jpg'))).resize(side, side).jpeg({ quality: 92 }).toBuffer();
  }

  it.each([
    ['astronaut-grid4.jpg (1024², shrink 4)', 0],
    ['a 2048² JPEG (shrink 8)', 2048],
  ])('finds the same faces on %s as a full decode, at the same places', async (_name, side) => {
    const body = side === 0 ? fs.readFileSync(fixturePath('astronaut-grid4.jpg')) : await largeJpeg(side);
    const shrunk = await prepareImage(body, manifest.input, limits);
    const full = await fullDecode(body);
    expect(shrunk.letterbox).toEqual(full.letterbox);
    // The canvases differ (the decoder did the downscaling), but only slightly.
    let maxDiff = 0;
    let sumDiff = 0;
    for (let i = 0; i < full.pixels.length; i++) {
      const d = Math.abs(full.pixels[i] - shrunk.pixels[i]);
      maxDiff = Math.max(maxDiff, d);
      sumDiff += d;
    }
    expect(maxDiff).toBeGreaterThan(0);
    expect(sumDiff / full.pixels.length).toBeLessThan(4);

    const a = (await engine.detect(shrunk)).faces;
    const b = (await engine.detect(full)).faces;
    expect(b).toHaveLength(4);
    expect(a).toHaveLength(b.length);
    for (const face of b) {
      const best = Math.max(...a.map((f) => iou(f.box, face.box)));
      expect(best).toBeGreaterThan(0.9);
      // Boxes agree within 2 canvas pixels mapped back to the photo.
      const match = a.find((f) => iou(f.box, face.box) === best)!;
      match.box.forEach((v, j) => expect(Math.abs(v - face.box[j])).toBeLessThan((2 * full.letterbox.width) / 256 + 1));
      expect(Math.abs(match.score - face.score)).toBeLessThan(0.05);
    }
  }, 60_000);
});
