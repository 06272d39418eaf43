import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';

/** One fixture file as its folder's manifest.json describes it. */
export interface FixtureEntry {
  folder: string;
  file: string;
  path: string;
  width?: number;
  height?: number;
  faces: Array<{ box: [number, number, number, number]; difficulty: 'easy' | 'hard' }>;
  expectError?: boolean;
  expectCode?: string;
}

/** The shared fixtures root: `../shared/fixtures` beside the repository (`FACEFLEET_FIXTURES` overrides). */
export function fixturesRoot(): string {
  return process.env.FACEFLEET_FIXTURES ?? path.resolve(findRepoRoot(), '..', 'shared', 'fixtures');
}

/** Every fixture folder (a folder holding a manifest.json). */
export function fixtureFolders(): string[] {
  const root = fixturesRoot();
  if (!fs.existsSync(root)) throw new Error(`fixtures not found at ${root} (set FACEFLEET_FIXTURES)`);
  return fs
    .readdirSync(root)
    .map((d) => path.join(root, d))
    .filter((d) => fs.existsSync(path.join(d, 'manifest.json')))
    .sort();
}

/** Every entry of every fixture folder. */
export function allFixtures(): FixtureEntry[] {
  return fixtureFolders().flatMap((folder) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as Array<Omit<FixtureEntry, 'folder' | 'path'>>;
    return manifest.map((e) => ({ ...e, faces: e.faces ?? [], folder, path: path.join(folder, e.file) }));
  });
}
