import sharp from 'sharp';
import type { Face } from '../detectors/detector';

/**
 * Draws faces over an image (sharp compositing an SVG overlay): a box per face, its score, and its
 * landmarks as dots. The image is turned upright first, so boxes in upright pixels line up. Returns
 * JPEG bytes.
 */
export async function annotateImage(body: Buffer, faces: readonly Face[], options: { quality?: number } = {}): Promise<Buffer> {
  const upright = sharp(body, { pages: 1 }).autoOrient();
  const { data, info } = await upright.toBuffer({ resolveWithObject: true });
  const w = info.width;
  const h = info.height;
  const stroke = Math.max(2, Math.round(Math.min(w, h) / 250));
  const font = Math.max(12, Math.round(Math.min(w, h) / 40));
  const parts = faces.map((f) => {
    const [x1, y1, x2, y2] = f.box.map((v) => Math.round(v * 10) / 10);
    const label = f.score.toFixed(2);
    // Small faces in crowds get thinner lines, smaller dots and labels, so the face stays visible.
    const side = Math.max(1, Math.min(x2 - x1, y2 - y1));
    const line = Math.max(1, Math.min(stroke, Math.round(side / 20)));
    const size = Math.max(9, Math.min(font, Math.round(side / 2.5)));
    const ty = y1 - line * 2 > size ? y1 - line * 2 : y2 + size + line;
    const dots = (f.landmarks ?? []).map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${Math.max(1, Math.min(stroke * 1.5, side / 25)).toFixed(1)}" fill="#ffd400"/>`).join('');
    return (
      `<rect x="${x1}" y="${y1}" width="${Math.max(0, x2 - x1)}" height="${Math.max(0, y2 - y1)}" fill="none" stroke="#00e676" stroke-width="${line}"/>` +
      `<text x="${x1}" y="${ty}" font-family="sans-serif" font-size="${size}" fill="#00e676" stroke="#000" stroke-width="${Math.max(1, line / 2)}" paint-order="stroke">${label}</text>` +
      dots
    );
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${parts.join('')}</svg>`;
  return sharp(data)
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: options.quality ?? 88 })
    .toBuffer();
}
