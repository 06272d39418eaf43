import path from 'node:path';
import { FacefleetError } from '../errors';
import type { Box, GroundTruth, GtFace, GtImage } from './ground-truth';

/** Where a JSON manifest came from, for resolving paths and naming it in errors. */
export interface ManifestSource {
  /** The manifest file, named in error messages; image paths resolve against its folder. */
  file: string;
}

/**
 * Parses a JSON ground-truth manifest (the `manifest.json` of the shared fixture folders): an array of
 * `{file, faces: [{box: [x1, y1, x2, y2], difficulty?}], ignore?: [[x1, y1, x2, y2], ...], expectError?}`.
 * Entries with `expectError: true` are left out (counted in `skipped`); other fields (width, height,
 * source, license, notes) are allowed and not read. Throws `E_CONFIG` naming the file, the entry and
 * the field on malformed input.
 */
export function parseManifestGt(text: string, source: ManifestSource): GroundTruth {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new FacefleetError('E_CONFIG', `${source.file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(data)) {
    throw new FacefleetError('E_CONFIG', `${source.file}: expected a JSON array of {file, faces} entries, got ${kindOf(data)}`);
  }
  const dir = path.dirname(path.resolve(source.file));
  const images: GtImage[] = [];
  const seen = new Map<string, number>();
  let skipped = 0;
  data.forEach((entry: unknown, i) => {
    const where = (field?: string) => `${source.file} entry ${i}${isRecord(entry) && typeof entry.file === 'string' ? ` (${entry.file})` : ''}${field ? `: ${field}` : ''}`;
    if (!isRecord(entry)) throw new FacefleetError('E_CONFIG', `${where()}: expected an object, got ${kindOf(entry)}`);
    if (entry.expectError !== undefined && typeof entry.expectError !== 'boolean') {
      throw new FacefleetError('E_CONFIG', `${where('expectError')}: expected true or false, got ${JSON.stringify(entry.expectError)}`);
    }
    if (typeof entry.file !== 'string' || entry.file.trim() === '') {
      throw new FacefleetError('E_CONFIG', `${where('file')}: expected a non-empty path, got ${JSON.stringify(entry.file) ?? 'nothing'}`);
    }
    if (entry.expectError === true) {
      skipped++;
      return;
    }
    const first = seen.get(entry.file);
    if (first !== undefined) throw new FacefleetError('E_CONFIG', `${where('file')}: ${entry.file} is annotated twice (first in entry ${first})`);
    seen.set(entry.file, i);
    if (!Array.isArray(entry.faces)) throw new FacefleetError('E_CONFIG', `${where('faces')}: expected an array, got ${kindOf(entry.faces)}`);
    const faces = entry.faces.map((face: unknown, k): GtFace => {
      if (!isRecord(face)) throw new FacefleetError('E_CONFIG', `${where(`faces[${k}]`)}: expected {box, difficulty?}, got ${kindOf(face)}`);
      const box = toBox(face.box, where(`faces[${k}].box`));
      if (face.difficulty === undefined) return { box };
      if (typeof face.difficulty !== 'string' || face.difficulty === '') {
        throw new FacefleetError('E_CONFIG', `${where(`faces[${k}].difficulty`)}: expected a label such as "easy" or "hard", got ${JSON.stringify(face.difficulty)}`);
      }
      return { box, difficulty: face.difficulty };
    });
    let ignore: Box[] = [];
    if (entry.ignore !== undefined) {
      if (!Array.isArray(entry.ignore)) throw new FacefleetError('E_CONFIG', `${where('ignore')}: expected an array of boxes, got ${kindOf(entry.ignore)}`);
      ignore = entry.ignore.map((b: unknown, k) => toBox(b, where(`ignore[${k}]`)));
    }
    images.push({ name: entry.file, file: path.resolve(dir, entry.file), faces, ignore });
  });
  return { format: 'manifest', source: source.file, images, skipped };
}

function toBox(value: unknown, where: string): Box {
  const ok =
    Array.isArray(value) &&
    value.length === 4 &&
    value.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    value[2] > value[0] &&
    value[3] > value[1];
  if (!ok) throw new FacefleetError('E_CONFIG', `${where}: expected [x1, y1, x2, y2] with x2 > x1 and y2 > y1, got ${JSON.stringify(value) ?? 'nothing'}`);
  return [value[0], value[1], value[2], value[3]];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}
