import fs from 'node:fs';
import { BlazeFaceDetector } from '../../src/detectors/blazeface-detector';
import type { Face } from '../../src/detectors/detector';
import { BatchSession, DetectionEngine } from '../../src/engine/detection-engine';
import type { PreparedImage } from '../../src/imaging/prepared-image';
import { letterboxImage } from '../../src/imaging/letterbox';
import { SessionHost } from '../../src/inference/session-host';
import type { WireTensor } from '../../src/inference/thread-protocol';
import { pullBlazeFace } from '../../src/models/blazeface-pull';
import { resolveModelCacheDir } from '../../src/models/model-cache';
import { loadManifest } from '../../src/models/registry';
import { allFixtures } from '../support/fixtures';

/**
 * The inference thread's optimisations must not change a single detection: session options (no
 * spinning), input buffers handed back by the thread and packed into again, batches of several images.
 * Real BlazeFace, real inference thread, the shared fixture photos.
 */
describe('inference thread: batching and reused input buffers', () => {
  const manifest = loadManifest('blazeface');
  let detector: BlazeFaceDetector;
  let host: SessionHost;
  const images = new Map<string, PreparedImage>();
  const faceFiles = ['astronaut.png', 'astronaut-grid4.jpg', 'astronaut-exif8.jpg', 'astronaut-small.jpg'];

  /** The session, recording which feed buffers came back and whether the next batch reused them. */
  const returned = new Set<ArrayBufferLike>();
  let reusedRuns = 0;
  const recording: BatchSession = {
    async run(feeds: Record<string, WireTensor>) {
      const buffer = feeds[manifest.input.name].data.buffer;
      if (returned.has(buffer)) reusedRuns++;
      const res = await host.run(feeds);
      for (const t of Object.values(res.inputs ?? {})) returned.add(t.data.buffer);
      return res;
    },
  };

  function engine(maxBatch: number, session: BatchSession = host): DetectionEngine {
    return new DetectionEngine(detector, session, { maxBatch, maxWaitMs: 50, decode: detector.defaults });
  }

  beforeAll(async () => {
    const pulled = await pullBlazeFace({ cacheDir: resolveModelCacheDir() });
    expect(pulled.dynamicBatch).toBe(true);
    detector = new BlazeFaceDetector({ manifest, dynamicBatch: true });
    host = await SessionHost.start({ modelPath: pulled.modelPath, intraOpThreads: 0, interOpThreads: 1, providers: ['cpu'], allowCpuFallback: false });
    for (const f of allFixtures().filter((e) => !e.expectError)) {
      const { pixels, letterbox } = await letterboxImage(fs.readFileSync(f.path), manifest.input);
      images.set(f.file, { pixels, letterbox, format: 'test' });
    }
  }, 300_000);

  afterAll(async () => {
    await host?.close();
  });

  async function alone(file: string): Promise<Face[]> {
    const e = engine(1);
    try {
      return (await e.detect(images.get(file)!)).faces;
    } finally {
      await e.close();
    }
  }

  function expectSameFaces(actual: Face[], expected: Face[]): void {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((f, i) => {
      expect(f.score).toBeCloseTo(expected[i].score, 4);
      f.box.forEach((v, j) => expect(v).toBeCloseTo(expected[i].box[j], 2));
    });
  }

  it('gives every image of a batch the faces it gets alone', async () => {
    const e = engine(4);
    try {
      const outs = await Promise.all(faceFiles.map((f) => e.detect(images.get(f)!)));
      expect(outs.map((o) => o.batchSize)).toEqual([4, 4, 4, 4]);
      for (const [i, file] of faceFiles.entries()) {
        const single = await alone(file);
        expect({ file, found: single.length > 0 }).toEqual({ file, found: true });
        expectSameFaces(outs[i].faces, single);
      }
    } finally {
      await e.close();
    }
  });

  it('packs later batches into returned buffers without leaking earlier images into them', async () => {
    const e = engine(4, recording);
    try {
      // A full batch of faces fills every slot of the buffer …
      await Promise.all(faceFiles.map((f) => e.detect(images.get(f)!)));
      // … then a face-free photo alone, then two, reuse it: stale faces must not appear.
      const cat = await e.detect(images.get('cat-noface.png')!);
      expect(cat.batchSize).toBe(1);
      expect(cat.faces).toEqual([]);
      const [rocket, coffee] = await Promise.all([e.detect(images.get('rocket-noface.jpg')!), e.detect(images.get('coffee-noface.png')!)]);
      expect([rocket.batchSize, coffee.batchSize]).toEqual([2, 2]);
      expect([rocket.faces, coffee.faces]).toEqual([[], []]);
      // And a face image in the second slot of a reused buffer is found where it is found alone.
      const [, small] = await Promise.all([e.detect(images.get('coffee-noface.png')!), e.detect(images.get('astronaut-small.jpg')!)]);
      expectSameFaces(small.faces, await alone('astronaut-small.jpg'));
      expect(reusedRuns).toBeGreaterThanOrEqual(3);
    } finally {
      await e.close();
    }
  });
});
