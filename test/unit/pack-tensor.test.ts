import { InputContract } from '../../src/detectors/detector';
import { packTensor } from '../../src/imaging/pack-tensor';

/** A 2×1 canvas contract (two pixels) with the given layout and colour order. */
function contract(layout: 'NHWC' | 'NCHW', colorOrder: 'RGB' | 'BGR'): InputContract {
  return {
    name: 'x', width: 2, height: 1, layout, colorOrder,
    mean: [10, 20, 30], std: [1, 2, 4], padValue: [0, 0, 0],
  };
}

// Two images of two RGB pixels each.
const a = Uint8Array.from([10, 20, 30, 11, 22, 34]);
const b = Uint8Array.from([20, 40, 70, 0, 0, 0]);

describe('packTensor', () => {
  it('packs NHWC RGB: (v - mean) / std per channel, pixel-interleaved', () => {
    expect(Array.from(packTensor([a, b], contract('NHWC', 'RGB')))).toEqual([
      0, 0, 0, 1, 1, 1,
      10, 10, 10, -10, -10, -7.5,
    ]);
  });

  it('packs NCHW RGB as planes', () => {
    expect(Array.from(packTensor([a], contract('NCHW', 'RGB')))).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('swaps to BGR, with mean and std given in the fed (BGR) order', () => {
    // Fed channel 0 is blue: (30 - 10) / 1, (34 - 10) / 1; channel 2 is red: (10 - 30) / 4, (11 - 30) / 4.
    expect(Array.from(packTensor([a], contract('NCHW', 'BGR')))).toEqual([20, 24, 0, 1, -5, -4.75]);
    expect(Array.from(packTensor([a], contract('NHWC', 'BGR')))).toEqual([20, 0, -5, 24, 1, -4.75]);
  });

  it('normalises the BlazeFace way to [-1, 1]', () => {
    const c: InputContract = { ...contract('NHWC', 'RGB'), mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] };
    const t = packTensor([Uint8Array.from([0, 255, 127.5, 255, 0, 0])], c);
    expect(t[0]).toBeCloseTo(-1, 6);
    expect(t[1]).toBeCloseTo(1, 6);
    expect(t[3]).toBeCloseTo(1, 6);
  });

  it('fills a caller buffer and returns a view of the packed length', () => {
    const out = new Float32Array(100).fill(42);
    const t = packTensor([a], contract('NHWC', 'RGB'), out);
    expect(t).toHaveLength(6);
    expect(t.buffer).toBe(out.buffer);
    expect(out[6]).toBe(42);
  });

  it('rejects a canvas of the wrong size and a buffer too small as the bugs they are (E_INTERNAL, not retried)', () => {
    expect(() => packTensor([Uint8Array.from([1, 2, 3])], contract('NHWC', 'RGB'))).toThrow(expect.objectContaining({ code: 'E_INTERNAL', kind: 'permanent' }));
    expect(() => packTensor([a, b], contract('NHWC', 'RGB'), new Float32Array(6))).toThrow(
      expect.objectContaining({ code: 'E_INTERNAL' }),
    );
  });

  it('packs an empty batch as an empty tensor', () => {
    expect(packTensor([], contract('NHWC', 'RGB'))).toHaveLength(0);
  });
});
