/**
 * The photo runs test workers chew through: fixture photos copied under many keys, and the results
 * read back from the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DetectionResult } from '../../src/queue/result';
import { allFixtures, fixturesRoot } from './fixtures';

/** One image copied by {@link copyPhotos}. */
export interface PhotoCopy {
  /** Key relative to the source folder, e.g. `copy-017/faces-basic/astronaut.png`; also the result's key. */
  key: string;
  /** Absolute path of the copy. */
  path: string;
}

/**
 * Copies the decodable fixture photos into `dir` under `copy-NNN/<fixture folder>/`, round after
 * round, until there are `count` images (error fixtures are left out so every job should succeed).
 */
export function copyPhotos(dir: string, count: number): PhotoCopy[] {
  const photos = allFixtures().filter((f) => !f.expectError);
  if (photos.length === 0) throw new Error('no decodable fixture photos');
  const copies: PhotoCopy[] = [];
  for (let n = 0; copies.length < count; n++) {
    const folder = `copy-${String(n).padStart(3, '0')}`;
    for (const f of photos.slice(0, count - copies.length)) {
      const key = `${folder}/${path.relative(fixturesRoot(), f.path).split(path.sep).join('/')}`;
      fs.mkdirSync(path.dirname(path.join(dir, key)), { recursive: true });
      fs.copyFileSync(f.path, path.join(dir, key));
      copies.push({ key, path: path.join(dir, key) });
    }
  }
  return copies;
}

/** What a results folder holds. */
export interface ResultsScan {
  /** Result files by key (`<key>.json` → `<key>`). */
  results: Map<string, DetectionResult>;
  /** Result files that do not parse as a result of their own key, with the reason. */
  bad: Array<{ file: string; reason: string }>;
  /** Leftover temporary files of interrupted writes (`.<name>.<random>.tmp`). */
  temps: string[];
  /** Any other file. */
  other: string[];
}

/** Reads every file under a results folder (missing folder: empty). */
export function scanResults(dir: string): ResultsScan {
  const scan: ResultsScan = { results: new Map(), bad: [], temps: [], other: [] };
  if (!fs.existsSync(dir)) return scan;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.relative(dir, path.join(entry.parentPath, entry.name));
    if (/^\..+\.tmp$/.test(entry.name)) scan.temps.push(file);
    else if (!file.endsWith('.json')) scan.other.push(file);
    else {
      const key = file.slice(0, -'.json'.length);
      try {
        const result = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as DetectionResult;
        if (result.key !== key) scan.bad.push({ file, reason: `key is ${JSON.stringify(result.key)}` });
        else if (!Array.isArray(result.faces)) scan.bad.push({ file, reason: 'no faces array' });
        else scan.results.set(key, result);
      } catch (err) {
        scan.bad.push({ file, reason: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  return scan;
}

/** Number of `.json` files under a folder (cheap progress probe; missing folder: 0). */
export function countJsonFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.json')).length;
}
