import path from 'node:path';
import { loadBenchOptions } from '../../tools/bench/bench-options';
import { FacefleetError } from '../../src/errors';
import { findRepoRoot } from '../../src/models/registry';

const bundled = path.join(findRepoRoot(), 'samples');

describe('benchmark photo sets (--sets)', () => {
  it('defaults to the samples and the camera set, both from the bundled samples', () => {
    const o = loadBenchOptions({}, {});
    expect(o.sets).toEqual(['samples', 'camera']);
    expect(o.imagesDir).toBe(bundled);
    expect(o.cameraSourceDir).toBe(bundled);
    expect(Object.isFrozen(o.sets)).toBe(true);
  });

  it('takes one set, or both in the order given, from commander strings', () => {
    expect(loadBenchOptions({ sets: 'camera' }, {}).sets).toEqual(['camera']);
    expect(loadBenchOptions({ sets: ' camera , samples ' }, {}).sets).toEqual(['camera', 'samples']);
    expect(loadBenchOptions({ sets: 'samples,samples' }, {}).sets).toEqual(['samples']);
  });

  it('lets --images replace the samples set while the camera set still comes from the bundled samples', () => {
    const o = loadBenchOptions({ images: '/photos' }, {});
    expect(o.sets).toEqual(['samples', 'camera']);
    expect(o.imagesDir).toBe('/photos');
    expect(o.cameraSourceDir).toBe(bundled);
  });

  it.each([
    ['warp', /--sets: expected a comma-separated list of samples, camera; given "warp"/],
    ['samples,raw', /--sets: expected a comma-separated list of samples, camera; given "samples,raw"/],
    [',', /--sets: expected a non-empty comma-separated list; given ","/],
  ])('refuses --sets %j with E_CONFIG naming the flag', (sets, message) => {
    let caught: unknown;
    try {
      loadBenchOptions({ sets }, {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FacefleetError);
    expect((caught as FacefleetError).code).toBe('E_CONFIG');
    expect((caught as Error).message).toMatch(message);
  });
});
