import type { InputContract } from '../detectors/detector';
import { FacefleetError } from '../errors';

/**
 * Packs letterboxed canvases (8-bit RGB, row-major, `contract.width × contract.height × 3` bytes each)
 * into one float batch tensor as the model expects it: `[N, H, W, 3]` or `[N, 3, H, W]` per
 * `contract.layout`, channels in `contract.colorOrder`, each value `(v - mean[c]) / std[c]` with the
 * mean and std given in the fed channel order.
 *
 * Pass `out` (at least `N × H × W × 3` floats) to reuse a buffer; a view of exactly that length is
 * returned. A canvas of the wrong size is a programming error upstream: `FacefleetError('E_INTERNAL')`.
 */
export function packTensor(pixelsList: readonly Uint8Array[], contract: InputContract, out?: Float32Array): Float32Array {
  const plane = contract.width * contract.height;
  const perImage = plane * 3;
  const length = pixelsList.length * perImage;
  if (out && out.length < length) {
    throw new FacefleetError('E_INTERNAL', `packTensor: output buffer holds ${out.length} floats, ${length} needed`);
  }
  const tensor = out ? out.subarray(0, length) : new Float32Array(length);
  // Source channel of each fed channel, and the per-channel affine map folded into scale + offset.
  const [s0, s1, s2] = contract.colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const [k0, k1, k2] = contract.std.map((s) => 1 / s);
  const [b0, b1, b2] = contract.mean.map((m, c) => -m * [k0, k1, k2][c]);
  const nhwc = contract.layout === 'NHWC';

  // One sequential pass over each canvas, all three channels per pixel: about twice as fast as a pass
  // per channel (measured on 256² NHWC and 320²/640² NCHW batches), with the same arithmetic per value.
  for (let n = 0; n < pixelsList.length; n++) {
    const pixels = pixelsList[n];
    if (pixels.length !== perImage) {
      throw new FacefleetError('E_INTERNAL', `packTensor: image ${n} has ${pixels.length} bytes, expected ${perImage} (${contract.width}×${contract.height}×3)`);
    }
    const base = n * perImage;
    if (nhwc) {
      for (let i = 0, d = base; i < perImage; i += 3, d += 3) {
        tensor[d] = pixels[i + s0] * k0 + b0;
        tensor[d + 1] = pixels[i + s1] * k1 + b1;
        tensor[d + 2] = pixels[i + s2] * k2 + b2;
      }
    } else {
      const p1 = base + plane;
      const p2 = base + 2 * plane;
      for (let j = 0, i = 0; j < plane; j++, i += 3) {
        tensor[base + j] = pixels[i + s0] * k0 + b0;
        tensor[p1 + j] = pixels[i + s1] * k1 + b1;
        tensor[p2 + j] = pixels[i + s2] * k2 + b2;
      }
    }
  }
  return tensor;
}
