import fs from 'node:fs/promises';
import sharp from 'sharp';
import type { InputContract } from '../../src/detectors/detector';
import { prepareImage } from '../../src/imaging/prepare-image';
import type { ImageLimits } from '../../src/imaging/probe-image';
import type { TilingOptions } from '../../src/imaging/tile-plan';
import type { BenchImageSet } from './bench-images';
import type { ProgressSink } from './progress';

/** The scale a full decode is compared against: libjpeg's 1/4 DCT scaling. */
export const QUARTER = 4;

/**
 * CPU ms per JPEG decode, one photo at a time (each read around with `process.cpuUsage()`, so the
 * libuv thread that decodes is counted): every pixel, at 1/4 scale, and the worker's own decode to
 * the model's canvas (`prepareImage`), alone and with the model's tiles.
 */
export interface DecodeCost {
  /** JPEGs decoded (the set's; other formats are left out). */
  photos: number;
  /** Decodes of each kind per photo. */
  passes: number;
  /** Canvas side, px. */
  canvas: number;
  cpuMs: { full: number; quarter: number; canvas: number; canvasTiles: number | null };
  /** `canvas ÷ quarter`. */
  canvasVsQuarter: number;
  /**
   * Whether the target applies: every photo is at least {@link QUARTER} × the canvas on its shorter
   * side, so a decode at 1/4 scale still covers the canvas (camera photos; not the small samples).
   */
  judged: boolean;
}

/** Settings of {@link measureDecodeCost}. */
export interface DecodeCostOptions {
  input: InputContract;
  limits: ImageLimits;
  tiling?: TilingOptions;
  /** Decodes of each kind per photo, after one of warm-up. @defaultValue 3 */
  passes?: number;
}

/**
 * Decodes each JPEG of the set in every way of {@link DecodeCost}, one after another, `passes` times;
 * `null` when the set has no JPEG. The 1/4-scale decode is sharp resizing to a quarter of the photo's
 * size, which libvips does with shrink-on-load (libjpeg's DCT scaling) and no further resampling.
 */
export async function measureDecodeCost(set: BenchImageSet, options: DecodeCostOptions, progress: ProgressSink): Promise<DecodeCost | null> {
  const passes = options.passes ?? 3;
  const photos: Array<{ body: Buffer; width: number; height: number }> = [];
  for (const image of set.images) {
    const body = await fs.readFile(image.file);
    const meta = await sharp(body).metadata();
    if (meta.format !== 'jpeg' || !meta.width || !meta.height) continue;
    photos.push({ body, width: meta.width, height: meta.height });
  }
  if (photos.length === 0) return null;
  const { input, limits, tiling } = options;
  const kinds: Array<[keyof DecodeCost['cpuMs'], (p: (typeof photos)[number]) => Promise<unknown>]> = [
    ['full', (p) => sharp(p.body).raw().toBuffer()],
    ['quarter', (p) => sharp(p.body).resize(Math.ceil(p.width / QUARTER), Math.ceil(p.height / QUARTER), { fit: 'fill' }).raw().toBuffer()],
    ['canvas', (p) => prepareImage(p.body, input, limits)],
  ];
  if (tiling) kinds.push(['canvasTiles', (p) => prepareImage(p.body, input, limits, tiling)]);
  const cpuMs: DecodeCost['cpuMs'] = { full: 0, quarter: 0, canvas: 0, canvasTiles: null };
  const total = kinds.length * photos.length * passes;
  let done = 0;
  for (const [kind, decode] of kinds) {
    for (const p of photos) await decode(p);
    let spent = 0;
    for (let pass = 0; pass < passes; pass++) {
      for (const p of photos) {
        const t = process.cpuUsage();
        await decode(p);
        const u = process.cpuUsage(t);
        spent += (u.user + u.system) / 1000;
        progress.update(++done, total);
      }
    }
    cpuMs[kind] = Math.round((spent / (photos.length * passes)) * 100) / 100;
  }
  const side = Math.max(input.width, input.height);
  return {
    photos: photos.length,
    passes,
    canvas: side,
    cpuMs,
    canvasVsQuarter: Math.round((cpuMs.canvas / cpuMs.quarter) * 1000) / 1000,
    judged: photos.every((p) => Math.min(p.width, p.height) >= QUARTER * side),
  };
}
