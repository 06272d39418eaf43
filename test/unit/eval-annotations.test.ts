import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FacefleetError } from '../../src/errors';
import { loadAnnotations } from '../../src/eval/annotations';
import { parseManifestGt } from '../../src/eval/manifest-gt';
import { parseWiderGt } from '../../src/eval/wider-gt';
import { fixtureFolders } from '../support/fixtures';

const source = { file: 'wider_face_val_bbx_gt.txt', imagesDir: '/data/WIDER_val/images' };

/** The thrown error, asserted to be an E_CONFIG FacefleetError. */
function configError(fn: () => unknown): FacefleetError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FacefleetError);
    expect((err as FacefleetError).code).toBe('E_CONFIG');
    return err as FacefleetError;
  }
  throw new Error('expected an error');
}

describe('parseWiderGt', () => {
  const sample = [
    '0--Parade/0_Parade_marchingband_1_465.jpg',
    '3',
    '345 211 4 4 2 0 0 0 0 0 ',
    '331 126 3 3 0 0 0 1 0 0 ',
    '10 20 30 40 0 0 1 0 2 1 ',
    '0--Parade/0_Parade_Parade_0_194.jpg',
    '0',
    '0 0 0 0 0 0 0 0 0 0 ',
    '1--Handshaking/1_Handshaking_1_357.jpg',
    '2',
    '5 6 0 10 0 0 0 0 0 0',
    '100 50 60 80 0 0 0 0 0 0',
    '',
  ].join('\n');

  it('reads faces as [x1, y1, x1 + w, y1 + h], invalid faces as ignore regions, and skips the zero line', () => {
    const gt = parseWiderGt(sample, source);
    expect(gt.format).toBe('wider');
    expect(gt.images.map((i) => i.name)).toEqual([
      '0--Parade/0_Parade_marchingband_1_465.jpg',
      '0--Parade/0_Parade_Parade_0_194.jpg',
      '1--Handshaking/1_Handshaking_1_357.jpg',
    ]);
    expect(gt.images[0]).toEqual({
      name: '0--Parade/0_Parade_marchingband_1_465.jpg',
      file: path.resolve('/data/WIDER_val/images', '0--Parade/0_Parade_marchingband_1_465.jpg'),
      faces: [{ box: [345, 211, 349, 215] }, { box: [10, 20, 40, 60] }],
      ignore: [[331, 126, 334, 129]],
    });
    expect(gt.images[1]).toMatchObject({ faces: [], ignore: [] });
    // The zero-width face is dropped: nothing could ever match it.
    expect(gt.images[2].faces).toEqual([{ box: [100, 50, 160, 130] }]);
  });

  it('accepts CRLF line ends and a zero count without its line of zeros', () => {
    const text = ['a.jpg', '0', 'b.jpg', '1', '1 2 3 4 0 0 0 0 0 0'].join('\r\n');
    const gt = parseWiderGt(text, source);
    expect(gt.images.map((i) => [i.name, i.faces.length])).toEqual([
      ['a.jpg', 0],
      ['b.jpg', 1],
    ]);
    expect(gt.images[1].faces[0].box).toEqual([1, 2, 4, 6]);
  });

  it('names the line of a count that is not a number', () => {
    const err = configError(() => parseWiderGt('a.jpg\nthree\n', source));
    expect(err.message).toContain('wider_face_val_bbx_gt.txt line 2');
    expect(err.message).toContain('face count of a.jpg');
  });

  it('names the line of a face line without ten numbers', () => {
    const err = configError(() => parseWiderGt('a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n1 2 3 4 0 0 0\n', source));
    expect(err.message).toMatch(/line 4: expected 10 numbers .*face 2 of 2 of a\.jpg/);
  });

  it('names the line where a count too small leaves a face line in place of a path', () => {
    const err = configError(() => parseWiderGt('a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n5 6 7 8 0 0 0 0 0 0\n', source));
    expect(err.message).toContain('line 4: expected an image path');
  });

  it('reports a file that ends inside a block', () => {
    const err = configError(() => parseWiderGt('a.jpg\n3\n1 2 3 4 0 0 0 0 0 0\n', source));
    expect(err.message).toContain('expected 3 face lines, found 1');
  });

  it('refuses an invalid flag other than 0 or 1, a repeated image and an empty file', () => {
    expect(configError(() => parseWiderGt('a.jpg\n1\n1 2 3 4 0 0 0 7 0 0\n', source)).message).toContain('line 3: the invalid flag');
    expect(configError(() => parseWiderGt('a.jpg\n0\nb.jpg\n0\na.jpg\n0\n', source)).message).toContain('line 5: image a.jpg is annotated twice (first at line 1)');
    expect(configError(() => parseWiderGt('\n\n', source)).message).toContain('no image blocks');
  });
});

describe('parseManifestGt', () => {
  const file = '/sets/faces/manifest.json';

  it('reads faces, difficulties and ignore regions, resolves paths against the manifest and skips expectError entries', () => {
    const text = JSON.stringify([
      { file: 'a.png', width: 512, height: 512, faces: [{ box: [1, 2, 30, 40], difficulty: 'easy' }], source: 'somewhere', license: 'BSD' },
      { file: 'sub/b.jpg', faces: [{ box: [0, 0, 10, 10] }], ignore: [[50, 50, 90, 90]] },
      { file: 'broken.jpg', faces: [], expectError: true, expectCode: 'E_DECODE' },
    ]);
    const gt = parseManifestGt(text, { file });
    expect(gt).toEqual({
      format: 'manifest',
      source: file,
      skipped: 1,
      images: [
        { name: 'a.png', file: path.resolve('/sets/faces/a.png'), faces: [{ box: [1, 2, 30, 40], difficulty: 'easy' }], ignore: [] },
        { name: 'sub/b.jpg', file: path.resolve('/sets/faces/sub/b.jpg'), faces: [{ box: [0, 0, 10, 10] }], ignore: [[50, 50, 90, 90]] },
      ],
    });
  });

  it('names the entry and field of a bad box', () => {
    const text = JSON.stringify([{ file: 'a.png', faces: [] }, { file: 'b.png', faces: [{ box: [10, 10, 5, 20] }] }]);
    const err = configError(() => parseManifestGt(text, { file }));
    expect(err.message).toBe(`${file} entry 1 (b.png): faces[0].box: expected [x1, y1, x2, y2] with x2 > x1 and y2 > y1, got [10,10,5,20]`);
  });

  it('refuses invalid JSON, a non-array, a missing file or faces field and repeated files', () => {
    expect(configError(() => parseManifestGt('[{', { file })).message).toContain(`${file} is not valid JSON`);
    expect(configError(() => parseManifestGt('{"images": []}', { file })).message).toContain('expected a JSON array');
    expect(configError(() => parseManifestGt('[{"faces": []}]', { file })).message).toContain('entry 0: file: expected a non-empty path');
    expect(configError(() => parseManifestGt('[{"file": "a.png"}]', { file })).message).toContain('entry 0 (a.png): faces: expected an array, got nothing');
    expect(configError(() => parseManifestGt('[{"file": "a.png", "faces": []}, {"file": "a.png", "faces": []}]', { file })).message).toContain('annotated twice (first in entry 0)');
  });

  it('reads every shared fixture manifest', () => {
    for (const folder of fixtureFolders()) {
      const manifestFile = path.join(folder, 'manifest.json');
      const entries = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Array<{ file: string; expectError?: boolean; faces?: unknown[] }>;
      const gt = parseManifestGt(fs.readFileSync(manifestFile, 'utf8'), { file: manifestFile });
      const kept = entries.filter((e) => !e.expectError);
      expect(gt.images.map((i) => i.name)).toEqual(kept.map((e) => e.file));
      expect(gt.images.map((i) => i.faces.length)).toEqual(kept.map((e) => e.faces?.length ?? 0));
      expect(gt.skipped).toBe(entries.length - kept.length);
    }
  });
});

describe('loadAnnotations', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-eval-gt-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads WIDER text against its images folder and a manifest against its own folder', async () => {
    fs.writeFileSync(path.join(dir, 'gt.txt'), 'x/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n');
    fs.writeFileSync(path.join(dir, 'm.json'), '\uFEFF[{"file": "a.png", "faces": []}]');
    const wider = await loadAnnotations({ widerGt: path.join(dir, 'gt.txt'), images: '/imgs' });
    expect(wider.images[0].file).toBe(path.resolve('/imgs/x/a.jpg'));
    const manifest = await loadAnnotations({ manifest: path.join(dir, 'm.json') });
    expect(manifest.images[0].file).toBe(path.join(dir, 'a.png'));
  });

  it('refuses a missing file and one above the size limit, naming it', async () => {
    await expect(loadAnnotations({ manifest: path.join(dir, 'absent.json') })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('absent.json: ENOENT') });
    fs.writeFileSync(path.join(dir, 'big.json'), `[${' '.repeat(2000)}]`);
    await expect(loadAnnotations({ manifest: path.join(dir, 'big.json') }, { maxBytes: 1000 })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('big.json is 2002 bytes, above the 1000-byte limit'),
    });
  });
});
