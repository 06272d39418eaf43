import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelManifest } from '../detectors/model-manifest';
import { FacefleetError } from '../errors';

/** Where to look for the `models/` folder. */
export interface RegistryOptions {
  /**
   * Repository root holding `models/`.
   * @defaultValue the nearest ancestor of this compiled file holding `package.json` and `models/`
   */
  root?: string;
}

/**
 * The repository root: the nearest ancestor of `start` that holds both `package.json` and a `models/`
 * folder (works from `src/models` under ts-node and from `dist/src/models` once compiled).
 */
export function findRepoRoot(start: string = __dirname): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'models'))) return dir;
    if (path.dirname(dir) === dir) {
      throw new FacefleetError('E_MODEL', `no directory holding package.json and models/ above ${start}`);
    }
  }
}

const ID = /^[a-z0-9][a-z0-9_-]*$/;

function invalid(file: string, field: string, expected: string, got: unknown): never {
  throw new FacefleetError('E_MODEL', `${file}: ${field}: expected ${expected}, got ${JSON.stringify(got)}`);
}

function checkManifest(file: string, id: string, raw: unknown): ModelManifest {
  if (typeof raw !== 'object' || raw === null) invalid(file, '(root)', 'an object', raw);
  const m = raw as Record<string, unknown>;
  for (const key of ['id', 'version', 'source', 'integrity', 'file', 'license']) {
    if (typeof m[key] !== 'string' || m[key] === '') invalid(file, key, 'a non-empty string', m[key]);
  }
  if (m.id !== id) invalid(file, 'id', JSON.stringify(id), m.id);
  if (!/^(sha256|sha384|sha512)-[A-Za-z0-9+/]+={0,2}$/.test(m.integrity as string)) invalid(file, 'integrity', 'sha256-, sha384- or sha512-<base64>', m.integrity);
  if (m.registry !== undefined && m.registry !== 'npm' && m.registry !== 'pypi') invalid(file, 'registry', 'npm or pypi', m.registry);
  if (m.modelSha256 !== undefined && !/^[0-9a-f]{64}$/.test(String(m.modelSha256))) invalid(file, 'modelSha256', '64 lower-case hex digits', m.modelSha256);
  if (m.registry === 'pypi' && (typeof m.archive !== 'string' || !/\.whl$/.test(m.archive))) invalid(file, 'archive', 'a wheel file name', m.archive);
  const input = m.input as Record<string, unknown> | undefined;
  if (typeof input !== 'object' || input === null) invalid(file, 'input', 'an object', input);
  if (typeof input.name !== 'string') invalid(file, 'input.name', 'a string', input.name);
  for (const key of ['width', 'height']) {
    if (!Number.isInteger(input[key]) || (input[key] as number) <= 0) invalid(file, `input.${key}`, 'a positive integer', input[key]);
  }
  if (input.layout !== 'NHWC' && input.layout !== 'NCHW') invalid(file, 'input.layout', 'NHWC or NCHW', input.layout);
  if (input.colorOrder !== 'RGB' && input.colorOrder !== 'BGR') invalid(file, 'input.colorOrder', 'RGB or BGR', input.colorOrder);
  for (const key of ['mean', 'std', 'padValue']) {
    const v = input[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      invalid(file, `input.${key}`, 'three numbers', v);
    }
  }
  if ((input.std as number[]).some((x) => x === 0)) invalid(file, 'input.std', 'non-zero values', input.std);
  const outputs = m.outputs;
  if (!Array.isArray(outputs) || outputs.length === 0) invalid(file, 'outputs', 'a non-empty array', outputs);
  outputs.forEach((o: Record<string, unknown>, i) => {
    if (typeof o?.name !== 'string') invalid(file, `outputs[${i}].name`, 'a string', o?.name);
    if (!Array.isArray(o.shape)) invalid(file, `outputs[${i}].shape`, 'an array', o.shape);
  });
  return Object.freeze(m) as unknown as ModelManifest;
}

/**
 * Reads and validates `models/<id>/manifest.json`. Throws `FacefleetError('E_MODEL')` naming the
 * field when the manifest is missing or malformed.
 */
export function loadManifest(id: string, options: RegistryOptions = {}): ModelManifest {
  if (!ID.test(id)) throw new FacefleetError('E_MODEL', `model id: expected a lower-case plain name, got ${JSON.stringify(id)}`);
  const file = path.join(options.root ?? findRepoRoot(), 'models', id, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FacefleetError('E_MODEL', `${file}: cannot read the model manifest`, { cause: err });
  }
  return checkManifest(file, id, raw);
}

/** Ids of every model in the registry (folders under `models/` holding a `manifest.json`), sorted. */
export function listModels(options: RegistryOptions = {}): string[] {
  const dir = path.join(options.root ?? findRepoRoot(), 'models');
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && ID.test(e.name) && fs.existsSync(path.join(dir, e.name, 'manifest.json')))
    .map((e) => e.name)
    .sort();
}
