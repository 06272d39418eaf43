import sharp from 'sharp';
import type { PhotoVariant } from './photo-set';

/** Kinds of hostile input, each with how a correct worker must end it. */
export const HOSTILE_KINDS = {
  'random-bytes': 'fail',
  'magic-then-garbage': 'fail',
  truncated: 'either',
  'bit-flipped': 'either',
  'zero-bytes': 'fail',
  'declared-huge': 'fail',
  'real-bomb': 'fail',
  'near-limit': 'either',
  'animated-gif': 'either',
  svg: 'fail',
  pdf: 'fail',
  'other-format': 'fail',
  'unicode-key': 'either',
  'bad-key': 'fail',
  'bad-result-key': 'fail',
  'bad-payload': 'fail',
} as const;

/** One kind of hostile input. */
export type HostileKind = keyof typeof HOSTILE_KINDS;

/**
 * One hostile job: bytes to store under `objectKey` (none for key and payload attacks), and either a
 * source URL with a result key, or a raw payload that breaks the job contract.
 */
export interface HostileInput {
  kind: HostileKind;
  /** Object to upload into the photos bucket, if any. */
  object?: { key: string; body: Buffer };
  /** Source URL and result key of the job (for `bad-payload`: an id-only source; `payload` is enqueued instead). */
  source: string;
  key: string;
  /** A payload outside the job contract, added as is. */
  payload?: unknown;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same inputs on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Inputs built once per generator: encoded photos to damage and bombs to copy. */
interface Material {
  images: Buffer[];
  gif: Buffer;
  bomb: Buffer;
  nearLimit: Buffer;
}

/**
 * Generates `count` hostile inputs, deterministic for a seed, cycling through every kind: random bytes,
 * image signatures followed by garbage, truncated and bit-flipped JPEG/PNG/WebP, empty objects,
 * headers declaring gigapixel images, a real 144-megapixel PNG, an 81-megapixel one just under the
 * limit, animated GIFs, SVG, PDF and other formats, unicode keys (valid), unsafe keys (`..`, `//`,
 * leading `/`, control characters, 2,000 bytes), unsafe result keys, and payloads outside the contract.
 */
export async function hostileInputs(count: number, variants: readonly PhotoVariant[], bucket: string, prefix: string, seed = 6): Promise<HostileInput[]> {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(list: readonly T[]) => list[int(list.length)];
  const material = await makeMaterial(variants);
  const kinds = Object.keys(HOSTILE_KINDS) as HostileKind[];
  const inputs: HostileInput[] = [];
  for (let i = 0; i < count; i++) {
    // Bombs are costly to decode and to store: one in a hundred at most.
    let kind = kinds[i % kinds.length];
    if ((kind === 'real-bomb' || kind === 'near-limit') && i % (kinds.length * 6) >= kinds.length) kind = 'bit-flipped';
    const id = String(i).padStart(6, '0');
    const ext = pick(['jpg', 'png', 'webp', 'gif', 'jpeg', 'bin']);
    const objectKey = `${prefix}${id}-${kind}.${ext}`;
    const withBody = (body: Buffer): HostileInput => ({ kind, object: { key: objectKey, body }, source: `s3://${bucket}/${objectKey}`, key: objectKey.slice(prefix.length) });
    switch (kind) {
      case 'random-bytes':
        inputs.push(withBody(randomBytes(rand, 1 + int(32_768))));
        break;
      case 'magic-then-garbage': {
        const magic = pick([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.from('GIF89a'), Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x40, 0, 0, 0]), Buffer.from('WEBPVP8 ')]), Buffer.from('II*\x00', 'latin1'), Buffer.from('\x00\x00\x00\x18ftypavif', 'latin1')]);
        inputs.push(withBody(Buffer.concat([magic, randomBytes(rand, int(4096))])));
        break;
      }
      case 'truncated': {
        const img = pick(material.images);
        inputs.push(withBody(img.subarray(0, 1 + int(img.length - 1))));
        break;
      }
      case 'bit-flipped': {
        const img = Buffer.from(pick(material.images));
        for (let f = 1 + int(32); f > 0; f--) img[int(img.length)] ^= 1 << int(8);
        inputs.push(withBody(img));
        break;
      }
      case 'zero-bytes':
        inputs.push(withBody(Buffer.alloc(0)));
        break;
      case 'declared-huge':
        inputs.push(withBody(pick([pngDeclaring(60_000, 60_000), pngDeclaring(2_147_483_647, 1), gifDeclaring(65_535, 65_535), jpegDeclaring(material.images[0], 65_000, 65_000), webpDeclaring(16_384, 16_384)])));
        break;
      case 'real-bomb':
        inputs.push(withBody(material.bomb));
        break;
      case 'near-limit':
        inputs.push(withBody(material.nearLimit));
        break;
      case 'animated-gif':
        inputs.push(withBody(material.gif));
        break;
      case 'svg':
        inputs.push(withBody(Buffer.from(pick([
          '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><circle cx="320" cy="240" r="100"/></svg>',
          '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="10" height="10"/></svg>',
          '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&c;</text></svg>',
        ]))));
        break;
      case 'pdf':
        inputs.push(withBody(Buffer.from('%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n')));
        break;
      case 'other-format':
        inputs.push(withBody(pick([
          Buffer.concat([Buffer.from('BM'), randomBytes(rand, 64)]),
          Buffer.from([0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0]),
          Buffer.from('<!doctype html><html><body><img src=x onerror=alert(1)></body></html>'),
          Buffer.from('{"faces": [], "schema": "https://facefleet.dev/schemas/result/v1"}'),
          Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), randomBytes(rand, 256)]),
          Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), randomBytes(rand, 256)]),
          Buffer.concat([Buffer.from('\x7fELF', 'latin1'), randomBytes(rand, 256)]),
          Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypisom', 'latin1'), randomBytes(rand, 256)]),
        ])));
        break;
      case 'unicode-key': {
        const name = `${prefix}${id}-${pick(['写真', 'фото', 'صورة', 'é-è', '😀🙂', 'Ωmega', 'naïve café'])}.${pick(['jpg', 'png', 'webp'])}`;
        const v = pick(variants);
        inputs.push({ kind, object: { key: name, body: v.body }, source: `s3://${bucket}/${name}`, key: name.slice(prefix.length) });
        break;
      }
      case 'bad-key': {
        const bad = pick([`${prefix}../../etc/passwd`, `${prefix}a//b-${id}.jpg`, `/${prefix}${id}.jpg`, `${prefix}${id}\u0000.jpg`, `${prefix}${id}\n.jpg`, `${prefix}${id}\u007f.jpg`, `${prefix}${'x'.repeat(1100)}-${id}.jpg`, `${prefix}./${id}.jpg`, `${prefix}${id}\\..\\x.jpg`, `${prefix}${id}\ud800.jpg`]);
        inputs.push({ kind, source: `s3://${bucket}/${bad}-${id}`, key: `${id}-bad-key` });
        break;
      }
      case 'bad-result-key': {
        const bad = pick(['../../outside', '/absolute', 'a//b', 'x/./y', `c\u0001ontrol`, 'x'.repeat(1030), 'back\\slash', 'trailing/']);
        inputs.push({ kind, source: `s3://${bucket}/${prefix}${id}-result-key.jpg`, key: `${bad}${bad.endsWith('/') ? '' : `-${id}`}` });
        break;
      }
      case 'bad-payload': {
        const source = `s3://${bucket}/${prefix}${id}-payload.jpg`;
        const payload = pick<unknown>([
          { v: 2, source, results: `s3://${bucket}/out`, runId: 'x', model: 'blazeface' },
          { v: 1, source, runId: 'x', model: 'blazeface' },
          { v: 1, source, results: `s3://${bucket}/out`, runId: 'x', model: 'blazeface', extra: { $where: 'sleep(1000)' } },
          { v: 1, source: { $gt: '' }, results: `s3://${bucket}/out`, runId: 'x', model: 'blazeface' },
          { v: 1, source, results: `s3://${bucket}/out`, runId: '../../x', model: 'blazeface' },
          { v: 1, source: `file:///etc/passwd`, results: 'file:///tmp', runId: 'x', model: 'nope' },
          { v: 1, source: 'x'.repeat(5000), results: `s3://${bucket}/out`, runId: 'x', model: 'blazeface' },
          null,
          'a string',
          [1, 2, 3],
        ]);
        inputs.push({ kind, source, key: `${id}-payload`, payload });
        break;
      }
    }
  }
  return inputs;
}

async function makeMaterial(variants: readonly PhotoVariant[]): Promise<Material> {
  const images = variants.filter((v, i) => i % 3 === 0).map((v) => v.body);
  const frame = (colour: string) => sharp({ create: { width: 96, height: 64, channels: 3, background: colour } }).png().toBuffer();
  const gif = await sharp(await Promise.all(['#d33', '#3d3', '#33d', '#dd3'].map(frame)), { join: { animated: true } }).gif({ delay: [80, 80, 80, 80], loop: 0 }).toBuffer();
  const solid = (side: number) => sharp({ create: { width: side, height: side, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer();
  return { images, gif, bomb: await solid(12_000), nearLimit: await solid(9_000) };
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** A PNG whose IHDR declares `width × height` (valid CRCs) followed by a tiny IDAT and IEND. */
function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

let crcTable: Uint32Array | undefined;
function crc32(data: Buffer): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (const byte of data) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A GIF whose logical screen and first image declare `width × height`, with a one-pixel LZW stream. */
function gifDeclaring(width: number, height: number): Buffer {
  const b = Buffer.alloc(64);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  b.set([0x80, 0, 0, 0, 0, 0, 255, 255, 255], 10);
  b.set([0x2c, 0, 0, 0, 0], 19);
  b.writeUInt16LE(width, 24);
  b.writeUInt16LE(height, 26);
  b.set([0, 2, 2, 0x4c, 0x01, 0, 0x3b], 28);
  return b.subarray(0, 35);
}

/** A real JPEG with its frame header (SOF0/SOF2) patched to declare `width × height`. */
function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(jpeg);
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) break;
    const marker = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
    i += 2 + len;
  }
  return b;
}

/** A WebP with a VP8X header declaring a `width × height` canvas and nothing else. */
function webpDeclaring(width: number, height: number): Buffer {
  const vp8x = Buffer.alloc(18);
  vp8x.write('VP8X', 0, 'latin1');
  vp8x.writeUInt32LE(10, 4);
  vp8x.writeUIntLE(width - 1, 12, 3);
  vp8x.writeUIntLE(height - 1, 15, 3);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + vp8x.length, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, vp8x]);
}
