import sharp from 'sharp';
import { probeImage, sniffFormat } from '../../src/imaging/probe-image';
import { resultUrlFor } from '../../src/worker/job-processor';
import { codeOf } from '../support/error-code';

const limits = { maxPixels: 50e6 };

describe('probeImage', () => {
  it('classifies empty, foreign and damaged bytes', async () => {
    expect(await codeOf(probeImage(Buffer.alloc(0), limits))).toBe('E_UNSUPPORTED_FORMAT');
    expect(await codeOf(probeImage(Buffer.from('hello, not an image'), limits))).toBe('E_UNSUPPORTED_FORMAT');
    expect(await codeOf(probeImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), limits))).toBe('E_DECODE');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    expect(await codeOf(probeImage(svg, limits))).toBe('E_UNSUPPORTED_FORMAT');
  });

  it('refuses a declared decompression bomb from its header alone', async () => {
    // A PNG whose IHDR declares 30000×30000: only the header is read.
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
    const bomb = Buffer.from(png);
    bomb.writeUInt32BE(30000, 16);
    bomb.writeUInt32BE(30000, 20);
    expect(await codeOf(probeImage(bomb, limits))).toBe('E_TOO_LARGE');
  });

  it('reports the upright size of an EXIF-rotated image', async () => {
    const jpeg = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#888' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    await expect(probeImage(jpeg, limits)).resolves.toMatchObject({ format: 'jpeg', width: 20, height: 40, orientation: 6 });
  });

  it('sniffs the allowed formats by their magic numbers', () => {
    expect(sniffFormat(Buffer.from('GIF89a....'))).toBe('gif');
    expect(sniffFormat(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffFormat(Buffer.from('plain text'))).toBeUndefined();
  });
});

describe('resultUrlFor', () => {
  it('puts <key>.json under the results location', () => {
    expect(resultUrlFor('s3://bucket/results', 'a/b.jpg')).toBe('s3://bucket/results/a/b.jpg.json');
    expect(resultUrlFor('s3://bucket/results/', 'a.jpg')).toBe('s3://bucket/results/a.jpg.json');
    expect(resultUrlFor('s3://bucket', 'a.jpg')).toBe('s3://bucket/a.jpg.json');
    expect(resultUrlFor('file:///data/out', 'x.png')).toBe('file:///data/out/x.png.json');
  });
  it('refuses keys that would escape the results location', () => {
    expect(() => resultUrlFor('s3://bucket/results', '../x.jpg')).toThrow(/\.\./);
  });
});
