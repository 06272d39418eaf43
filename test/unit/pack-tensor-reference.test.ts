import type { InputContract } from '../../src/detectors/detector';
import { packTensor } from '../../src/imaging/pack-tensor';

/** The definition, one value at a time: fed channel c of pixel (y, x) is (v[src(c)] - mean[c]) / std[c]. */
function reference(pixelsList: Uint8Array[], c: InputContract): Float32Array {
  const out = new Float32Array(pixelsList.length * c.width * c.height * 3);
  const src = c.colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  pixelsList.forEach((px, n) => {
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        for (let ch = 0; ch < 3; ch++) {
          const k = 1 / c.std[ch];
          const v = px[(y * c.width + x) * 3 + src[ch]] * k + -c.mean[ch] * k;
          const at = c.layout === 'NHWC' ? ((n * c.height + y) * c.width + x) * 3 + ch : ((n * 3 + ch) * c.height + y) * c.width + x;
          out[at] = v;
        }
      }
    }
  });
  return out;
}

/** Deterministic pseudo-random canvases (a linear congruential generator), different per image. */
function canvases(count: number, width: number, height: number): Uint8Array[] {
  let state = 12345;
  return Array.from({ length: count }, () => Uint8Array.from({ length: width * height * 3 }, () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24)));
}

describe('packTensor against its definition', () => {
  for (const layout of ['NHWC', 'NCHW'] as const) {
    for (const colorOrder of ['RGB', 'BGR'] as const) {
      it(`packs ${layout} ${colorOrder} batches bit for bit as defined, also into a reused larger buffer`, () => {
        const c: InputContract = { name: 'x', width: 7, height: 5, layout, colorOrder, mean: [123.675, 116.28, 103.53], std: [14891, 14566, 14631], padValue: [0, 0, 0] };
        const images = canvases(3, c.width, c.height);
        expect(Array.from(packTensor(images, c))).toEqual(Array.from(reference(images, c)));
        // A buffer last used for a bigger batch: the view holds exactly the new batch, as defined.
        const buffer = packTensor(canvases(4, c.width, c.height), c, new Float32Array(4 * 7 * 5 * 3));
        const again = packTensor(images.slice(1), c, new Float32Array(buffer.buffer));
        expect(Array.from(again)).toEqual(Array.from(reference(images.slice(1), c)));
      });
    }
  }
});
