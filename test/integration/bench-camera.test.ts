import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadBenchOptions } from '../../tools/bench/bench-options';
import { ensureCameraSet } from '../../tools/bench/camera-set';
import { silentProgress } from '../../tools/bench/progress';
import { runBench } from '../../tools/bench/run-bench';

const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/** The benchmark's settings come from its flags alone, not from the test runner's environment. */
function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(FACEFLEET_(?!MODEL_CACHE$)|REDIS_URL$)/.test(k)));
}

describe('the camera set on disk', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'facefleet-camera-test-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('is written once per set of inputs, reused after, and skips what cannot be decoded', async () => {
    const sources = path.join(tmp, 'sources');
    await fs.mkdir(sources);
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c08040' } }).png().toFile(path.join(sources, 'a.png'));
    await sharp({ create: { width: 48, height: 64, channels: 3, background: '#4080c0' } }).jpeg().toFile(path.join(sources, 'b.jpg'));
    const whole = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } }).jpeg().toBuffer();
    await fs.writeFile(path.join(sources, 'cut.jpg'), whole.subarray(0, Math.floor(whole.length / 2)));
    await fs.writeFile(path.join(sources, 'notes.txt'), 'not a photo');
    const cache = path.join(tmp, 'cache');

    const made = await ensureCameraSet(sources, cache);
    expect(made.reused).toBe(false);
    expect(made.skipped).toEqual(['cut.jpg']);
    expect(made.photos.map((p) => [p.name, p.orientation])).toEqual([
      ['a-camera-4032x3024.jpg', 1],
      ['b-camera-4032x3024.jpg', 1],
      ['b-camera-3024x4032-exif6.jpg', 6],
    ]);
    for (const p of made.photos) expect((await fs.stat(path.join(made.dir, p.name))).size).toBe(p.bytes);
    // Only the finished set is left in the cache: no temporary folder.
    expect(await fs.readdir(cache)).toEqual([path.basename(made.dir)]);

    const again = await ensureCameraSet(sources, cache);
    expect({ reused: again.reused, dir: again.dir, photos: again.photos }).toEqual({ reused: true, dir: made.dir, photos: made.photos });

    // Different source bytes are a different set, in its own folder.
    await fs.rm(path.join(sources, 'b.jpg'));
    const other = await ensureCameraSet(sources, cache);
    expect(other.reused).toBe(false);
    expect(other.dir).not.toBe(made.dir);
    expect(other.photos.map((p) => p.name)).toEqual(['a-camera-4032x3024.jpg']);
  });
});

/**
 * A short benchmark on the camera set alone (`--sets camera --count 8 --phases in-process --seconds 2`),
 * run in this process with the flags as commander passes them: its JSON must carry the camera set
 * with its figures. Figures are never asserted on, only that they were measured.
 */
describe('facefleet bench --sets camera', () => {
  it('measures in-process on the camera photos and reports the camera set with its figures', async () => {
    const options = loadBenchOptions({ sets: 'camera', count: '8', phases: 'in-process', seconds: '2', json: true }, cleanEnv());
    const report = JSON.parse(JSON.stringify(await runBench(options, silentProgress)));

    expect(report.sets.map((s: { name: string }) => s.name)).toEqual(['camera']);
    const [camera] = report.sets;
    expect(camera.photos).toBeGreaterThanOrEqual(8);
    expect(camera.photoNames.filter((n: string) => /-3024x4032-exif[68]\.jpg$/.test(n)).length).toBeGreaterThanOrEqual(1);
    expect(camera.meanBytes).toBeGreaterThan(2_000_000);
    expect(camera.meanBytes).toBeLessThan(5_000_000);
    expect(camera.meanMegapixels).toBeCloseTo(12.19, 1);
    // A 12 MP photo on a 640 canvas is tiled: more than one canvas each.
    expect(camera.meanViews).toBeGreaterThan(1);
    expect(camera.phases.inProcess.images).toBe(8);
    expect(camera.phases.inProcess.failed).toBe(0);
    expect(isNumber(camera.inProcess) && isNumber(camera.cpuMsPerImage.inProcess)).toBe(true);
    expect(Object.keys(camera.stages.inProcess)).toEqual(expect.arrayContaining(['read', 'decode', 'inferenceWithWait', 'postprocess']));
    expect([camera.ceiling, camera.pipeline, camera.naive]).toEqual([null, null, null]);
    expect(camera.targets.map((t: { what: string }) => t.what)).toHaveLength(3);

    // The top level is the first set's, as before sets existed.
    expect(report.inProcess).toBe(camera.inProcess);
    expect(report.settings.imagesDir).toBe(camera.dir);
    expect(report.model.meanViews).toBe(camera.meanViews);
    expect(report.targets).toHaveLength(4);
  });
});
