#!/usr/bin/env node
'use strict';
/**
 * CPU per decode of one 4032×3024 JPEG (q90, photo-like texture, about 4 MB), one libvips thread,
 * measured with process.cpuUsage over sequential decodes: a full decode, a decode at 1/4 scale, and
 * facefleet's decode to a 640 canvas (whole image, and whole image plus 4 tiles), with libvips' fast
 * shrink-on-load and with its cautious choice. Build first (`npm run -s build`).
 *
 *   node scripts/decode-cost.js [--count N] [--json]
 */
const path = require('node:path');
const sharp = require('sharp');
const { prepareImage } = require(path.join(__dirname, '..', 'dist', 'src', 'imaging', 'prepare-image.js'));

const CANVAS = { name: 'input', width: 640, height: 640, layout: 'NCHW', colorOrder: 'BGR', mean: [0, 0, 0], std: [1, 1, 1], padValue: [0, 0, 0] };
const LIMITS = { maxPixels: 100e6 };
const TILES = { maxTiles: 4, overlap: 0.2, minGain: 1.3 };

async function main() {
  const args = process.argv.slice(2);
  const count = Number(args[args.indexOf('--count') + 1]) || 20;
  sharp.cache(false);
  sharp.concurrency(1);
  const texture = await sharp({ create: { width: 1008, height: 756, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
  const body = await sharp(texture).resize(4032, 3024, { kernel: 'cubic' }).jpeg({ quality: 90 }).toBuffer();
  const cpuMs = async (fn) => {
    await fn();
    const t = process.cpuUsage();
    for (let i = 0; i < count; i++) await fn();
    const u = process.cpuUsage(t);
    return Math.round(((u.user + u.system) / 1000 / count) * 10) / 10;
  };
  const rows = {
    fullDecode: await cpuMs(() => sharp(body).raw().toBuffer()),
    quarterScaleDecode: await cpuMs(() => sharp(body).resize(1008, 756).raw().toBuffer()),
    canvas640: await cpuMs(() => prepareImage(body, CANVAS, LIMITS)),
    canvas640Cautious: await cpuMs(() => prepareImage(body, CANVAS, LIMITS, undefined, { fastShrinkOnLoad: false })),
    canvas640Tiles4: await cpuMs(() => prepareImage(body, CANVAS, LIMITS, TILES)),
  };
  const ratio = Math.round((rows.canvas640 / rows.quarterScaleDecode) * 100) / 100;
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ jpegBytes: body.length, count, cpuMsPerDecode: rows, canvas640OverQuarterScale: ratio })}\n`);
    return;
  }
  process.stdout.write(`4032×3024 JPEG, ${(body.length / 1e6).toFixed(1)} MB, ${count} decodes each, CPU ms per decode:\n`);
  for (const [name, ms] of Object.entries(rows)) process.stdout.write(`  ${name.padEnd(20)} ${ms}\n`);
  process.stdout.write(`  640 canvas / 1/4-scale decode: ${ratio} (target ≤ 1.2)\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});
