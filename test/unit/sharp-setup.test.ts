import sharp from 'sharp';
import { letterboxImage } from '../../src/imaging/letterbox';
import { decodeThreads } from '../../src/imaging/sharp-setup';

describe('sharp settings for decoding', () => {
  it('are applied once any decode path is loaded: no operation cache, one libvips thread per image', () => {
    expect(typeof letterboxImage).toBe('function');
    expect(sharp.concurrency()).toBe(1);
    const cache = sharp.cache() as { files: { max: number }; items: { max: number }; memory: { max: number } };
    expect([cache.memory.max, cache.files.max, cache.items.max]).toEqual([0, 0, 0]);
  });

  it('reads FACEFLEET_DECODE_THREADS, refusing what is not a thread count', () => {
    expect(decodeThreads({})).toBe(1);
    expect(decodeThreads({ FACEFLEET_DECODE_THREADS: '4' })).toBe(4);
    for (const bad of ['0', '-1', '1.5', 'two', '65']) expect(() => decodeThreads({ FACEFLEET_DECODE_THREADS: bad })).toThrow(/FACEFLEET_DECODE_THREADS/);
  });
});
