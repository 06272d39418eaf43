import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { findRepoRoot } from '../../src/models/registry';
import type { SourceKey } from '../../src/producer/key-sources';
import type { ChaosEnv } from './chaos-env';
import { PHOTOS_BUCKET, RESULTS_BUCKET } from './chaos-env';

/** One encoded photo the suite copies under many keys. */
export interface PhotoVariant {
  name: string;
  ext: 'jpg' | 'png' | 'webp';
  body: Buffer;
}

/**
 * Small, decodable variants of the bundled sample photos (`samples/`): each photo re-encoded as JPEG at
 * two sizes and as PNG and WebP at one, so thousands of copies stay cheap to store and decode while the
 * formats and EXIF paths the worker handles are all exercised.
 */
export async function photoVariants(): Promise<PhotoVariant[]> {
  const dir = path.join(findRepoRoot(), 'samples');
  const variants: PhotoVariant[] = [];
  for (const file of fs.readdirSync(dir).sort()) {
    if (!/\.(jpe?g|png)$/i.test(file)) continue;
    const input = fs.readFileSync(path.join(dir, file));
    const base = file.replace(/\.[^.]+$/, '');
    try {
      const upright = await sharp(input).autoOrient().toBuffer();
      variants.push({ name: `${base}-320`, ext: 'jpg', body: await sharp(upright).resize(320).jpeg({ quality: 85 }).toBuffer() });
      variants.push({ name: `${base}-480`, ext: 'jpg', body: await sharp(upright).resize(480).jpeg({ quality: 80 }).toBuffer() });
      variants.push({ name: `${base}-256`, ext: 'png', body: await sharp(upright).resize(256).png().toBuffer() });
      variants.push({ name: `${base}-300`, ext: 'webp', body: await sharp(upright).resize(300).webp({ quality: 80 }).toBuffer() });
    } catch {
      // A sample that does not decode (the bundled truncated JPEG) is not a photo for these runs.
    }
  }
  return variants;
}

/** Where a scenario's images and results live, and the keys it enqueues. */
export interface PhotoRun {
  /** Key prefix in the photos bucket, e.g. `worker-sigkill/`. */
  prefix: string;
  /** `s3://chaos-results/<prefix>`. */
  results: string;
  /** Source URL and result key of every image, in enqueue order. */
  keys: SourceKey[];
}

/**
 * Uploads `count` photos (the variants round-robin, each under its own key) for a scenario and returns
 * the keys to enqueue; results go under the same prefix in the results bucket.
 */
export async function uploadPhotos(env: ChaosEnv, scenario: string, count: number, variants: readonly PhotoVariant[]): Promise<PhotoRun> {
  const prefix = `${scenario}/`;
  const objects = Array.from({ length: count }, (_, i) => {
    const v = variants[i % variants.length];
    return { key: `${prefix}${String(i).padStart(6, '0')}-${v.name}.${v.ext}`, body: v.body };
  });
  await env.upload(objects);
  return {
    prefix,
    results: `s3://${RESULTS_BUCKET}/${prefix.slice(0, -1)}`,
    keys: objects.map((o) => ({ source: `s3://${PHOTOS_BUCKET}/${o.key}`, key: o.key.slice(prefix.length) })),
  };
}
