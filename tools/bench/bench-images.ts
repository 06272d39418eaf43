import fs from 'node:fs/promises';
import path from 'node:path';
import type { InputContract, Letterbox } from '../../src/detectors/detector';
import { classify, FacefleetError } from '../../src/errors';
import type { ImageLimits } from '../../src/imaging/probe-image';
import { prepareImage } from '../../src/imaging/prepare-image';
import { probeImage } from '../../src/imaging/probe-image';
import type { TilingOptions } from '../../src/imaging/tile-plan';
import { isImageKey } from '../../src/producer/key-sources';

/** A photo the benchmark runs on: decodable by the same path a worker uses. */
export interface BenchImage {
  /** Absolute path. */
  file: string;
  /** File name inside the images folder. */
  name: string;
  /** Encoded size, bytes. */
  bytes: number;
  /** Decoded size, millions of pixels. */
  megapixels: number;
  /** The photo on the model's canvas (8-bit RGB), for tensors packed ahead of the ceiling loop. */
  pixels: Uint8Array;
  letterbox: Letterbox;
  /** Canvases the worker runs for this photo: 1, or 1 + its tiles. */
  views: number;
}

/** A photo left out because it cannot be decoded, with the code a worker would fail it with. */
export interface SkippedImage {
  name: string;
  code: string;
  message: string;
}

/** The photos of one benchmark. */
export interface BenchImageSet {
  dir: string;
  images: BenchImage[];
  skipped: SkippedImage[];
}

/**
 * Reads every image file directly in `dir` (by extension, sorted by name) and decodes it onto the
 * model's canvas with the worker's own `prepareImage`; files that fail (a truncated JPEG, say) are
 * skipped and listed, so every measured image is one a worker would finish. Throws `E_CONFIG` when
 * nothing decodable is left.
 */
export async function loadBenchImages(dir: string, contract: InputContract, limits: ImageLimits, tiling?: TilingOptions): Promise<BenchImageSet> {
  let names: string[];
  try {
    names = (await fs.readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && isImageKey(d.name)).map((d) => d.name);
  } catch (err) {
    throw new FacefleetError('E_CONFIG', `--images: cannot read folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  names.sort();
  const images: BenchImage[] = [];
  const skipped: SkippedImage[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const body = await fs.readFile(file);
    try {
      const prepared = await prepareImage(body, contract, limits, tiling);
      const probe = await probeImage(body, limits);
      images.push({ file, name, bytes: body.length, megapixels: (probe.width * probe.height) / 1e6, pixels: prepared.pixels, letterbox: prepared.letterbox, views: 1 + (prepared.tiles?.length ?? 0) });
    } catch (err) {
      const { code } = classify(err);
      skipped.push({ name, code, message: err instanceof Error ? err.message : String(err) });
    }
  }
  if (images.length === 0) {
    throw new FacefleetError('E_CONFIG', `--images: no decodable image in ${dir} (${names.length} image files, all skipped)`);
  }
  return { dir, images, skipped };
}

/** Mean canvases per photo of the set: what one image costs the session, in canvases. */
export function meanViews(set: BenchImageSet): number {
  return set.images.reduce((n, img) => n + img.views, 0) / set.images.length;
}

/** Mean encoded size of the set's photos, bytes. */
export function meanBytes(set: BenchImageSet): number {
  return set.images.reduce((n, img) => n + img.bytes, 0) / set.images.length;
}

/** Mean decoded size of the set's photos, megapixels. */
export function meanMegapixels(set: BenchImageSet): number {
  return set.images.reduce((n, img) => n + img.megapixels, 0) / set.images.length;
}

/** The photo used for the `i`-th benchmark image (the set repeated). */
export function imageAt(set: BenchImageSet, i: number): BenchImage {
  return set.images[i % set.images.length];
}

/**
 * Lays out `count` images under `dir` as `img-000000.<ext>` … for the queue measurements: hard links
 * to the photos (a copy where the file system refuses links), so every job has its own source URL and
 * job id while the bytes are the same photos. Returns the keys relative to `dir`, in order.
 */
export async function materializeImages(set: BenchImageSet, count: number, dir: string): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const width = Math.max(6, String(count - 1).length);
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const img = imageAt(set, i);
    const key = `img-${String(i).padStart(width, '0')}${path.extname(img.name).toLowerCase()}`;
    const target = path.join(dir, key);
    try {
      await fs.link(img.file, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        // Left by an earlier call with a larger count: the same photo by construction.
      } else if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP') {
        await fs.copyFile(img.file, target);
      } else {
        throw err;
      }
    }
    keys.push(key);
  }
  return keys;
}
