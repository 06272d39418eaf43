import type { InputContract } from '../detectors/detector';
import { FacefleetError } from '../errors';

/**
 * Packs letterboxed canvases (8-bit RGB, row-major, `contract.width × contract.height × 3` bytes each)
 * into one float batch tensor as the model expects it: `[N, H, W, 3]` or `[N, 3, H, W]` per
 * `contract.layout`, channels in `contract.colorOrder`, each value `(v - mean[c]) / std[c]` with the
 * mean and std given in the fed channel order.
 *
 * Pass `out` (at least `N × H × W × 3` floats) to reuse a buffer; a view of exactly that length is
 * returned. A canvas of the wrong size is a programming error upstream: `FacefleetError('E_INFERENCE')`.
 */
export function packTensor(pixelsList: readonly Uint8Array[], contract: InputContract, out?: Float32Array): Float32Array {
  const plane = contract.width * contract.height;
  const perImage = plane * 3;
  const length = pixelsList.length * perImage;
  if (out && out.length < length) {
    throw new FacefleetError('E_INFERENCE', `packTensor: output buffer holds ${out.length} floats, ${length} needed`);
  }
  const tensor = out ? out.subarray(0, length) : new Float32Array(length);
  // Source channel for each fed channel, and the per-channel affine map folded into scale + offset.
  const src = contract.colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const scale = contract.std.map((s) => 1 / s);
  const offset = contract.mean.map((m, c) => -m * scale[c]);
  const nhwc = contract.layout === 'NHWC';

  pixelsList.forEach((pixels, n) => {
    if (pixels.length !== perImage) {
      throw new FacefleetError('E_INFERENCE', `packTensor: image ${n} has ${pixels.length} bytes, expected ${perImage} (${contract.width}×${contract.height}×3)`);
    }
    const base = n * perImage;
    for (let c = 0; c < 3; c++) {
      const s = src[c];
      const k = scale[c];
      const b = offset[c];
      if (nhwc) {
        for (let i = 0; i < plane; i++) tensor[base + i * 3 + c] = pixels[i * 3 + s] * k + b;
      } else {
        const dst = base + c * plane;
        for (let i = 0; i < plane; i++) tensor[dst + i] = pixels[i * 3 + s] * k + b;
      }
    }
  });
  return tensor;
}
