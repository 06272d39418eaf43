import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { findRepoRoot } from '../../src/models/registry';
import { groupsManifest, writeCameraMosaic } from '../support/camera-mosaic';

/**
 * `facefleet eval` as a user runs it, on the annotated group photos (test/fixtures/groups) and on a
 * camera-size photo made from them: the default model's accuracy, BlazeFace's beside it, and what
 * tiling buys on small faces in a large photo.
 */
const root = findRepoRoot();
const cli = path.join(root, 'bin', 'facefleet.js');

interface Bucket { label: string; faces: number; found: number; recall: number | null }
interface Summary {
  model: { id: string };
  faces: number;
  ap: number;
  recall: number;
  precision: number | null;
  fpPerImage: number;
  recallBySize: Bucket[];
  recallByDifficulty: Bucket[];
  images: { scored: number; failed: number };
}

function evaluate(manifest: string, out: string, flags: string[] = []): Summary {
  const run = spawnSync(process.execPath, [cli, 'eval', '--manifest', manifest, '--out', out, '--json', ...flags], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  if (run.status !== 0) throw new Error(`eval exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as Summary;
}

const easy = (s: Summary) => s.recallByDifficulty.find((b) => b.label === 'easy')!;

describe('facefleet eval on real group photos', () => {
  let tmp: string;
  let retina: Summary;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-eval-'));
    retina = evaluate(groupsManifest(), path.join(tmp, 'retinaface'));
  }, 300_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('uses RetinaFace by default and meets the accuracy bar: ≥ 80 % of all faces, ≥ 95 % of easy ones, ≤ 0.15 false detections per image', () => {
    expect(retina.model.id).toBe('retinaface');
    expect(retina.images.failed).toBe(0);
    expect(retina.faces).toBeGreaterThan(100);
    expect(retina.recall).toBeGreaterThanOrEqual(0.8);
    expect(easy(retina).recall).toBeGreaterThanOrEqual(0.95);
    expect(retina.fpPerImage).toBeLessThanOrEqual(0.15);
    expect(retina.ap).toBeGreaterThan(0.9);
  });

  it('writes the PR curve as a PNG and one JSONL line per image with its detections', async () => {
    const dir = path.join(tmp, 'retinaface');
    const meta = await sharp(path.join(dir, 'pr-curve.png')).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(300);
    const lines = fs.readFileSync(path.join(dir, 'detections.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(retina.images.scored);
    expect(lines.reduce((n, l) => n + l.faces.length, 0)).toBeGreaterThanOrEqual(Math.round(retina.recall * retina.faces));
  });

  it('scores BlazeFace, the close-range model, far lower on the same photos', () => {
    const blaze = evaluate(groupsManifest(), path.join(tmp, 'blazeface'), ['--model', 'blazeface']);
    expect(blaze.model.id).toBe('blazeface');
    expect(blaze.recall).toBeLessThan(retina.recall - 0.3);
  }, 300_000);

  it('finds the small faces of a 12-megapixel photo with tiles, which the whole-image view alone misses', async () => {
    const manifest = await writeCameraMosaic(path.join(tmp, 'camera'));
    const whole = evaluate(manifest, path.join(tmp, 'camera-0'), ['--max-tiles', '0']);
    const tiled = evaluate(manifest, path.join(tmp, 'camera-16'), ['--max-tiles', '16']);
    expect(whole.faces).toBeGreaterThanOrEqual(100);
    expect(whole.recall).toBeLessThan(0.2);
    expect(tiled.recall).toBeGreaterThanOrEqual(0.9);
    expect(tiled.fpPerImage).toBeLessThanOrEqual(whole.fpPerImage + 0.15);
  }, 300_000);
});
