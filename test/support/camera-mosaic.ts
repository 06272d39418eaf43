import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { findRepoRoot } from '../../src/models/registry';

/** The annotated group photos kept in the repository (test/fixtures/groups). */
export function groupsManifest(): string {
  return path.join(findRepoRoot(), 'test', 'fixtures', 'groups', 'manifest.json');
}

interface Entry {
  file: string;
  width: number;
  height: number;
  faces: Array<{ box: [number, number, number, number]; difficulty: string }>;
  ignore?: Array<[number, number, number, number]>;
}

/**
 * Writes a camera-size photo (4032×3024, JPEG q90) holding a 2×2 grid of one group photo at its own
 * scale, and its manifest, into `dir`: a phone photo whose faces are as small as the group photo's
 * (40–54 px for the Solvay photo), so that the whole-image view shrinks them to 7–9 px. Returns the
 * manifest's path.
 */
export async function writeCameraMosaic(dir: string, file = 'solvay-1927.jpg'): Promise<string> {
  const groups = groupsManifest();
  const entry = (JSON.parse(fs.readFileSync(groups, 'utf8')) as Entry[]).find((e) => e.file === file);
  if (!entry) throw new Error(`${file} is not in ${groups}`);
  const W = 4032;
  const H = 3024;
  const mx = Math.floor((W - 2 * entry.width) / 3);
  const my = Math.floor((H - 2 * entry.height) / 3);
  const offsets = [[mx, my], [2 * mx + entry.width, my], [mx, 2 * my + entry.height], [2 * mx + entry.width, 2 * my + entry.height]];
  const photo = await sharp(path.join(path.dirname(groups), file)).toColourspace('srgb').toBuffer();
  fs.mkdirSync(dir, { recursive: true });
  const out = `camera-${path.basename(file, path.extname(file))}.jpg`;
  await sharp({ create: { width: W, height: H, channels: 3, background: { r: 96, g: 92, b: 88 } } })
    .composite(offsets.map(([left, top]) => ({ input: photo, left, top })))
    .jpeg({ quality: 90 })
    .toFile(path.join(dir, out));
  const shift = (b: [number, number, number, number], [dx, dy]: number[]): [number, number, number, number] => [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy];
  const manifest = [{
    file: out,
    width: W,
    height: H,
    faces: offsets.flatMap((o) => entry.faces.map((f) => ({ ...f, box: shift(f.box, o) }))),
    ignore: offsets.flatMap((o) => (entry.ignore ?? []).map((b) => shift(b, o))),
    source: `2×2 grid of test/fixtures/groups/${file} at its own scale on a 4032×3024 canvas`,
  }];
  const manifestPath = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 1)}\n`);
  return manifestPath;
}

// `node dist/test/support/camera-mosaic.js DIR` writes the photo and its manifest for `facefleet eval`.
if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node dist/test/support/camera-mosaic.js DIR\n');
    process.exitCode = 64;
  } else {
    writeCameraMosaic(dir).then((m) => process.stdout.write(`${m}\n`), (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    });
  }
}
