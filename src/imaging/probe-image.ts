import sharp from 'sharp';
import './sharp-setup';
import { FacefleetError } from '../errors';

/** Image formats accepted (sharp's names). GIFs are read at their first frame. */
export const ALLOWED_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'heif', 'tiff', 'gif'] as const;

/** Decode limits. */
export interface ImageLimits {
  /** Largest pixel count (width × height) accepted. */
  maxPixels: number;
  /**
   * Longest a decode may take, ms; past it the image is quarantined (`E_POISON`) and libvips stops
   * working on it. @defaultValue {@link DEFAULT_DECODE_TIMEOUT_MS}
   */
  decodeTimeoutMs?: number;
}

/** A decode of an image within the pixel limit takes seconds at most; one still running after this hangs. */
export const DEFAULT_DECODE_TIMEOUT_MS = 30_000;

/** What the header says, before any pixel is decoded. */
export interface ImageProbe {
  format: string;
  /** Upright size (after EXIF orientation). */
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 when absent). */
  orientation: number;
}

/**
 * Reads the header only and classifies what cannot be processed: empty or non-image bytes and
 * formats outside the allow-list (`E_UNSUPPORTED_FORMAT`), pixel counts above the limit
 * (`E_TOO_LARGE`, a decompression-bomb guard that costs no decoding).
 */
export async function probeImage(body: Buffer, limits: ImageLimits): Promise<ImageProbe> {
  if (body.length === 0) throw new FacefleetError('E_UNSUPPORTED_FORMAT', 'empty object (0 bytes) is not an image');
  let meta: sharp.Metadata;
  try {
    meta = await sharp(body, { limitInputPixels: false }).metadata();
  } catch (err) {
    const sniffed = sniffFormat(body);
    // A known signature whose header cannot be read is a damaged image, not a foreign format.
    if (sniffed) throw new FacefleetError('E_DECODE', `damaged ${sniffed} (${body.length} bytes): its header cannot be read`, { cause: err });
    throw new FacefleetError('E_UNSUPPORTED_FORMAT', `not a recognised image (${body.length} bytes)`, { cause: err });
  }
  const format = meta.format ?? 'unknown';
  if (!(ALLOWED_FORMATS as readonly string[]).includes(format)) {
    throw new FacefleetError('E_UNSUPPORTED_FORMAT', `format ${format} is not accepted (allowed: ${ALLOWED_FORMATS.join(', ')})`);
  }
  const storedW = meta.width ?? 0;
  // Animated images report the height of every frame stacked; one frame is what gets decoded.
  const storedH = meta.pageHeight ?? meta.height ?? 0;
  if (storedW <= 0 || storedH <= 0) throw new FacefleetError('E_DECODE', `image header declares no size (${format})`);
  if (storedW * storedH > limits.maxPixels) {
    throw new FacefleetError('E_TOO_LARGE', `image declares ${storedW}×${storedH} = ${(storedW * storedH / 1e6).toFixed(1)} MP, above the ${(limits.maxPixels / 1e6).toFixed(1)} MP limit`);
  }
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  return { format, width: swap ? storedH : storedW, height: swap ? storedW : storedH, orientation };
}

/** The allowed format a file's leading bytes announce, if any (magic numbers). */
export function sniffFormat(b: Buffer): (typeof ALLOWED_FORMATS)[number] | undefined {
  const ascii = (start: number, text: string) => b.length >= start + text.length && b.toString('latin1', start, start + text.length) === text;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'II*\x00') || ascii(0, 'MM\x00*')) return 'tiff';
  if (ascii(4, 'ftypavif') || ascii(4, 'ftypavis')) return 'avif';
  if (ascii(4, 'ftyphei') || ascii(4, 'ftypmif1') || ascii(4, 'ftypheix')) return 'heif';
  return undefined;
}
