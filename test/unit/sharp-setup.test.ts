import sharp from 'sharp';
import { MODEL_OPTIONS } from '../../src/config/common';
import { loadModelConfig } from '../../src/config/model-config';
import { FacefleetError } from '../../src/errors';
import { letterboxImage } from '../../src/imaging/letterbox';
import { setupSharp } from '../../src/imaging/sharp-setup';

describe('sharp settings for decoding', () => {
  afterEach(() => setupSharp());

  it('are applied once any decode path is loaded: no operation cache, one libvips thread per image', () => {
    expect(typeof letterboxImage).toBe('function');
    expect(sharp.concurrency()).toBe(1);
    expect(MODEL_OPTIONS.decodeThreads.default).toBe(sharp.concurrency());
    const cache = sharp.cache() as { files: { max: number }; items: { max: number }; memory: { max: number } };
    expect([cache.memory.max, cache.files.max, cache.items.max]).toEqual([0, 0, 0]);
  });

  it('take the configured thread count when a model loads', () => {
    setupSharp(loadModelConfig({}, { FACEFLEET_DECODE_THREADS: '3' }).decodeThreads);
    expect(sharp.concurrency()).toBe(3);
  });

  it('read FACEFLEET_DECODE_THREADS through the config, refusing what is not a thread count with E_CONFIG naming the variable', () => {
    expect(loadModelConfig({}, {}).decodeThreads).toBe(1);
    expect(loadModelConfig({}, { FACEFLEET_DECODE_THREADS: '4' }).decodeThreads).toBe(4);
    expect(loadModelConfig({ decodeThreads: '2' }, { FACEFLEET_DECODE_THREADS: '4' }).decodeThreads).toBe(2);
    for (const bad of ['0', '-1', '1.5', 'two', '65']) {
      let error: unknown;
      try {
        loadModelConfig({}, { FACEFLEET_DECODE_THREADS: bad });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(FacefleetError);
      expect((error as FacefleetError).code).toBe('E_CONFIG');
      expect((error as Error).message).toContain(`decodeThreads (env FACEFLEET_DECODE_THREADS)`);
      expect((error as Error).message).toContain(`given ${JSON.stringify(bad)}`);
    }
    expect(() => loadModelConfig({ decodeThreads: '0' }, {})).toThrow(/decodeThreads \(--decode-threads\)/);
  });
});
