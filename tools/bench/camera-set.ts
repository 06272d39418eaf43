import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import '../../src/imaging/sharp-setup';
import { FacefleetError } from '../../src/errors';
import { isImageKey } from '../../src/producer/key-sources';

/**
 * Version of the camera-photo generator: part of the cache key, so a change to how the photos are
 * made (size, noise, quality, naming) must bump it and old caches are never reused.
 */
export const CAMERA_GENERATOR_VERSION = 1;

/** Stored frame of every camera photo: a 12 MP phone sensor, landscape. */
export const CAMERA_FRAME = { width: 4032, height: 3024 } as const;

/** JPEG quality of the camera photos. */
export const CAMERA_QUALITY = 90;

/**
 * Sensor-like noise: σ (in 8-bit levels) = `base` + `shot` × √value, so dark areas get ~3 levels and
 * highlights ~6 (read noise plus shot noise); 80 % of it shared by the three channels (luminance
 * noise, which survives 4:2:0 chroma subsampling as in a real photo), the rest per channel.
 */
export const CAMERA_NOISE = { base: 3, shot: 0.2, shared: 0.8 } as const;

/** How one camera photo is stored: EXIF orientation 1 (landscape), or 6 / 8 (rotated; portrait upright). */
export type CameraOrientation = 1 | 6 | 8;

/** One camera photo to make from one source photo. */
export interface CameraShot {
  /** File name of the source photo. */
  source: string;
  /** File name of the camera photo. */
  name: string;
  orientation: CameraOrientation;
  /** Seed of the noise, so the same inputs always give the same bytes. */
  seed: number;
}

/** Options of {@link renderCameraPhoto}. */
export interface RenderOptions {
  orientation: CameraOrientation;
  /** Seed of the noise generator (any non-zero 32-bit integer). */
  seed: number;
  /** Add sensor noise. @defaultValue true */
  noise?: boolean;
}

/**
 * Makes one camera photo from an encoded source photo: oriented upright, scaled to cover the frame
 * (4032×3024 upright for orientation 1, 3024×4032 for 6 and 8) and centre-cropped, sensor noise added,
 * then, for 6 and 8, the pixels stored rotated with the EXIF tag that turns them upright again — as a
 * phone held upright stores them. JPEG q90, 4:2:0, sRGB, 3 channels. Throws sharp's error when the
 * source cannot be decoded.
 */
export async function renderCameraPhoto(source: Buffer, options: RenderOptions): Promise<Buffer> {
  const portrait = options.orientation !== 1;
  const upright = portrait ? { width: CAMERA_FRAME.height, height: CAMERA_FRAME.width } : CAMERA_FRAME;
  const { data, info } = await sharp(source, { failOn: 'error', pages: 1 })
    .rotate()
    .resize(upright.width, upright.height, { fit: 'cover' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`camera photo: expected 3 channels after sRGB conversion, got ${info.channels}`);
  if (options.noise !== false) addSensorNoise(data, options.seed);
  let out = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
  // Stored pixels are the upright ones turned back: orientation 6 displays the stored image turned
  // 90° clockwise, so it is stored turned 90° anticlockwise (sharp's 270); 8 the other way.
  if (options.orientation === 6) out = out.rotate(270);
  if (options.orientation === 8) out = out.rotate(90);
  return out.withMetadata({ orientation: options.orientation }).jpeg({ quality: CAMERA_QUALITY, chromaSubsampling: '4:2:0' }).toBuffer();
}

/**
 * Which camera photos the source photos give: one landscape photo each, and for every second one
 * (by sorted name) also a portrait one stored rotated, alternating orientation 6 and 8.
 */
export function planCameraShots(sources: readonly string[]): CameraShot[] {
  const shots: CameraShot[] = [];
  [...sources].sort().forEach((source, i) => {
    const stem = path.basename(source, path.extname(source));
    shots.push({ source, name: `${stem}-camera-4032x3024.jpg`, orientation: 1, seed: 2 * i + 1 });
    if (i % 2 === 1) {
      const orientation: CameraOrientation = (i - 1) % 4 === 0 ? 6 : 8;
      shots.push({ source, name: `${stem}-camera-3024x4032-exif${orientation}.jpg`, orientation, seed: 2 * i + 2 });
    }
  });
  return shots;
}

/** The camera set on disk. */
export interface CameraSet {
  /** Folder holding the camera photos (and `manifest.json`). */
  dir: string;
  /** The camera photos, by file name, with their encoded size. */
  photos: Array<{ name: string; bytes: number; orientation: CameraOrientation }>;
  /** Source photos left out because they cannot be decoded. */
  skipped: string[];
  /** Whether an earlier run's photos were reused. */
  reused: boolean;
}

/** Where the camera sets are cached by default: one folder per hash of their inputs. */
export function defaultCameraCacheRoot(): string {
  return path.join(os.tmpdir(), 'facefleet-bench-camera');
}

/**
 * The camera set made from every image file directly in `sourceDir` (undecodable ones are skipped):
 * written once under `cacheRoot/<hash>`, where the hash covers the generator version, its settings and
 * every source file's name and bytes, and reused by later runs. A set is written to a temporary folder
 * and renamed into place, so a run that stops half-way, or two runs at once, never leave a partial set
 * behind. Throws `E_CONFIG` when no source photo can be decoded.
 */
export async function ensureCameraSet(sourceDir: string, cacheRoot: string = defaultCameraCacheRoot(), onPhoto?: (done: number, total: number) => void): Promise<CameraSet> {
  let names: string[];
  try {
    names = (await fs.readdir(sourceDir, { withFileTypes: true })).filter((d) => d.isFile() && isImageKey(d.name)).map((d) => d.name).sort();
  } catch (err) {
    throw new FacefleetError('E_CONFIG', `--sets camera: cannot read the source photos in ${sourceDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const sources = new Map<string, Buffer>();
  const hash = createHash('sha256').update(JSON.stringify({ v: CAMERA_GENERATOR_VERSION, frame: CAMERA_FRAME, q: CAMERA_QUALITY, noise: CAMERA_NOISE }));
  for (const name of names) {
    const body = await fs.readFile(path.join(sourceDir, name));
    sources.set(name, body);
    hash.update(`\0${name}\0`).update(createHash('sha256').update(body).digest());
  }
  const dir = path.join(cacheRoot, hash.digest('hex').slice(0, 16));
  const cached = await readManifest(dir);
  if (cached) return { dir, ...cached, reused: true };

  // Decodability is decided per source: a truncated file fails, the others still give their shots.
  const decodable: string[] = [];
  const skipped: string[] = [];
  for (const [name, body] of sources) {
    try {
      await sharp(body, { failOn: 'error', pages: 1 }).resize(8, 8).raw().toBuffer();
      decodable.push(name);
    } catch {
      skipped.push(name);
    }
  }
  if (decodable.length === 0) throw new FacefleetError('E_CONFIG', `--sets camera: no decodable photo in ${sourceDir} to make camera photos from`);
  await fs.mkdir(cacheRoot, { recursive: true });
  const temp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.mkdir(temp);
  try {
    const shots = planCameraShots(decodable);
    const photos: CameraSet['photos'] = [];
    for (const [i, shot] of shots.entries()) {
      const jpeg = await renderCameraPhoto(sources.get(shot.source)!, { orientation: shot.orientation, seed: shot.seed });
      await fs.writeFile(path.join(temp, shot.name), jpeg);
      photos.push({ name: shot.name, bytes: jpeg.length, orientation: shot.orientation });
      onPhoto?.(i + 1, shots.length);
    }
    await fs.writeFile(path.join(temp, MANIFEST), JSON.stringify({ version: CAMERA_GENERATOR_VERSION, photos, skipped }, null, 2));
    try {
      await fs.rename(temp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Another run finished the same set first (same inputs, same bytes): use theirs, unless what is
      // there is not a complete set, which is replaced.
      if (!(await readManifest(dir))) {
        await fs.rm(dir, { recursive: true, force: true });
        await fs.rename(temp, dir);
      }
    }
    return { dir, photos, skipped, reused: false };
  } finally {
    await fs.rm(temp, { recursive: true, force: true });
  }
}

const MANIFEST = 'manifest.json';

/** The manifest of a complete cached set whose files are all present at their recorded sizes; else `null`. */
async function readManifest(dir: string): Promise<Pick<CameraSet, 'photos' | 'skipped'> | null> {
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(dir, MANIFEST), 'utf8')) as Pick<CameraSet, 'photos' | 'skipped'> & { version: number };
    if (manifest.version !== CAMERA_GENERATOR_VERSION || !Array.isArray(manifest.photos) || manifest.photos.length === 0) return null;
    for (const p of manifest.photos) if ((await fs.stat(path.join(dir, p.name))).size !== p.bytes) return null;
    return { photos: manifest.photos, skipped: manifest.skipped ?? [] };
  } catch {
    return null;
  }
}

/** Normal deviates drawn once; the per-pixel noise indexes them with a fast generator. */
const GAUSS = gaussTable(1 << 16, 0x9e3779b9);

function gaussTable(n: number, seed: number): Float32Array {
  const next = xorshift(seed);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = ((next() >>> 0) + 1) / 4_294_967_297;
    const u2 = (next() >>> 0) / 4_294_967_296;
    const r = Math.sqrt(-2 * Math.log(u1));
    t[i] = r * Math.cos(2 * Math.PI * u2);
    t[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return t;
}

function xorshift(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s;
  };
}

/** Adds luminance-dependent Gaussian noise to packed 8-bit RGB in place (see {@link CAMERA_NOISE}). */
function addSensorNoise(rgb: Buffer, seed: number): void {
  const sigma = new Float32Array(256);
  for (let v = 0; v < 256; v++) sigma[v] = CAMERA_NOISE.base + CAMERA_NOISE.shot * Math.sqrt(v);
  const shared = CAMERA_NOISE.shared;
  const own = Math.sqrt(1 - shared * shared);
  // Inlined xorshift32: a closure call per sample would double the time.
  let s = seed | 0 || 1;
  for (let i = 0; i < rgb.length; i += 3) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const luma = shared * GAUSS[s & 0xffff];
    for (let c = i; c < i + 3; c++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const v = rgb[c];
      const n = v + sigma[v] * (luma + own * GAUSS[s & 0xffff]);
      // Rounds like Math.round (n > 0 here), which made this loop ten times slower inside jest's sandbox.
      rgb[c] = n <= 0 ? 0 : n >= 255 ? 255 : (n + 0.5) | 0;
    }
  }
}
