import fs from 'node:fs/promises';
import { FacefleetError } from '../errors';
import type { GroundTruth } from './ground-truth';
import { parseManifestGt } from './manifest-gt';
import { parseWiderGt } from './wider-gt';

/** Largest annotation file read, bytes (WIDER FACE's val ground truth is about 1 MB). */
export const MAX_ANNOTATION_BYTES = 64 * 1024 * 1024;

/** Which ground truth to load: WIDER FACE text with its images folder, or a JSON manifest. */
export type AnnotationSource = { widerGt: string; images: string } | { manifest: string };

/**
 * Reads ground truth from disk: WIDER FACE `bbx_gt` text (paths resolved against `images`) or a JSON
 * manifest (paths resolved against the manifest's folder). Throws `E_CONFIG` when the file is
 * missing, unreadable, larger than {@link MAX_ANNOTATION_BYTES} (or `maxBytes`) or malformed.
 */
export async function loadAnnotations(source: AnnotationSource, options: { maxBytes?: number } = {}): Promise<GroundTruth> {
  const file = 'manifest' in source ? source.manifest : source.widerGt;
  const text = await readCapped(file, options.maxBytes ?? MAX_ANNOTATION_BYTES);
  if ('manifest' in source) return parseManifestGt(text, { file });
  return parseWiderGt(text, { file, imagesDir: source.images });
}

async function readCapped(file: string, maxBytes: number): Promise<string> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    throw new FacefleetError('E_CONFIG', `cannot read annotations ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) throw new FacefleetError('E_CONFIG', `annotations ${file} is ${size} bytes, above the ${maxBytes}-byte limit`);
    const buffer = await handle.readFile();
    if (buffer.length > maxBytes) throw new FacefleetError('E_CONFIG', `annotations ${file} is above the ${maxBytes}-byte limit`);
    return buffer.toString('utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    if (err instanceof FacefleetError) throw err;
    throw new FacefleetError('E_CONFIG', `cannot read annotations ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  } finally {
    await handle.close();
  }
}
