import path from 'node:path';
import { FacefleetError } from '../errors';
import type { Box, GroundTruth, GtImage } from './ground-truth';

/** Where a WIDER FACE annotation text came from, for resolving paths and naming it in errors. */
export interface WiderSource {
  /** The annotation file, named in error messages. */
  file: string;
  /** The folder image paths are relative to (WIDER's `WIDER_val/images`). */
  imagesDir: string;
}

const FIELDS = 'x1 y1 w h blur expression illumination invalid occlusion pose';

/**
 * Parses WIDER FACE ground truth (`wider_face_val_bbx_gt.txt`): repeated blocks of an image path, a
 * face count N, then max(N, 1) lines of `x1 y1 w h blur expression illumination invalid occlusion pose`
 * (an image without faces has one line of zeros, which is skipped). Faces flagged `invalid` become
 * ignore regions; boxes with no area (WIDER has a few `w = 0` faces) are dropped, since nothing can
 * match them. Blank lines are skipped. Throws `E_CONFIG` naming the file and line on malformed input.
 */
export function parseWiderGt(text: string, source: WiderSource): GroundTruth {
  const lines = text.split(/\r?\n/);
  let at = 0;
  const fail: (lineIndex: number, what: string) => never = (lineIndex, what) => {
    throw new FacefleetError('E_CONFIG', `${source.file} line ${lineIndex + 1}: ${what}`);
  };
  // The next non-blank line, or -1 at the end of the text.
  const nextLine = (): number => {
    while (at < lines.length && lines[at].trim() === '') at++;
    return at < lines.length ? at++ : -1;
  };
  const images: GtImage[] = [];
  const seen = new Map<string, number>();
  for (;;) {
    const pathLine = nextLine();
    if (pathLine < 0) break;
    const name = lines[pathLine].trim();
    if (/^[-+\d.\s]+$/.test(name)) fail(pathLine, `expected an image path, got "${clip(name)}" (is the face count of the block before it right?)`);
    const first = seen.get(name);
    if (first !== undefined) fail(pathLine, `image ${name} is annotated twice (first at line ${first + 1})`);
    seen.set(name, pathLine);

    const countLine = nextLine();
    if (countLine < 0) fail(lines.length - 1, `the file ends after image path ${name}: expected its face count`);
    const countText = lines[countLine].trim();
    if (!/^\d+$/.test(countText)) fail(countLine, `expected the face count of ${name} (a whole number), got "${clip(countText)}"`);
    const count = Number(countText);

    const faces: GtImage['faces'] = [];
    const ignore: Box[] = [];
    for (let k = 0; k < count; k++) {
      const faceLine = nextLine();
      if (faceLine < 0) fail(lines.length - 1, `the file ends inside the block of ${name}: expected ${count} face lines, found ${k}`);
      const values = parseFaceLine(lines[faceLine]);
      if (!values) fail(faceLine, `expected 10 numbers "${FIELDS}" (face ${k + 1} of ${count} of ${name}), got "${clip(lines[faceLine].trim())}"`);
      const [x1, y1, w, h, , , , invalid] = values;
      if (invalid !== 0 && invalid !== 1) fail(faceLine, `the invalid flag (8th number) must be 0 or 1, got ${invalid}`);
      if (!(w > 0 && h > 0)) continue;
      const box: Box = [x1, y1, x1 + w, y1 + h];
      if (invalid === 1) ignore.push(box);
      else faces.push({ box });
    }
    if (count === 0) {
      // WIDER writes one line of zeros after a zero count; variants that omit it are accepted too.
      const save = at;
      const filler = nextLine();
      if (filler >= 0 && !parseFaceLine(lines[filler])) at = save;
    }
    images.push({ name, file: path.resolve(source.imagesDir, name), faces, ignore });
  }
  if (images.length === 0) throw new FacefleetError('E_CONFIG', `${source.file}: no image blocks found (expected WIDER FACE bbx_gt text)`);
  return { format: 'wider', source: source.file, images, skipped: 0 };
}

/** The ten numbers of a face line, or undefined when the line is not ten finite numbers. */
function parseFaceLine(line: string): number[] | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 10) return undefined;
  const values = parts.map(Number);
  return values.every(Number.isFinite) ? values : undefined;
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
