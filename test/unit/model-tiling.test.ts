import { DEFAULT_MAX_TILES, tilingFor } from '../../src/engine/build-engine';
import { DEFAULT_TILING } from '../../src/imaging/tile-plan';

describe('tilingFor', () => {
  it('tiles RetinaFace by default and leaves BlazeFace and MogFace whole-image only', () => {
    expect(DEFAULT_MAX_TILES).toEqual({ retinaface: 4, blazeface: 0, mogface: 0 });
    expect(tilingFor({ model: 'retinaface' })).toEqual({ ...DEFAULT_TILING, maxTiles: 4 });
    expect(tilingFor({ model: 'blazeface' })).toBeUndefined();
    expect(tilingFor({ model: 'mogface' })).toBeUndefined();
  });

  it('follows --max-tiles for any model, 0 turning tiling off', () => {
    expect(tilingFor({ model: 'blazeface', maxTiles: 9 })).toEqual({ ...DEFAULT_TILING, maxTiles: 9 });
    expect(tilingFor({ model: 'retinaface', maxTiles: 0 })).toBeUndefined();
  });
});
