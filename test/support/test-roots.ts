import fs from 'node:fs';
import os from 'node:os';
import { findRepoRoot } from '../../src/models/registry';
import { fixturesRoot } from './fixtures';

/**
 * The folders test workers may use for `file://` jobs (file:// is off by default): the temp folder the
 * tests write into, the shared fixtures and the repository (samples). Real paths, as the store
 * compares them.
 */
export function testFileRoots(): string[] {
  return [os.tmpdir(), fixturesRoot(), findRepoRoot()].filter((p) => fs.existsSync(p)).map((p) => fs.realpathSync(p));
}

/** {@link testFileRoots} as `--file-roots` / `FACEFLEET_FILE_ROOTS` takes them. */
export function testFileRootsFlag(): string {
  return testFileRoots().join(',');
}

/** {@link testFileRoots} as serve's `--allowed-locations` takes them (file:// is off there by default). */
export function testAllowedLocations(): string {
  return testFileRoots().map((r) => `file://${r}/`).join(',');
}
