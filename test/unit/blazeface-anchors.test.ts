import { BLAZEFACE_BACK_ANCHOR_OPTIONS, generateSsdAnchors } from '../../src/detectors/blazeface-anchors';

/** The `[cx, cy]` centre of anchor `i`. */
function center(centers: Float32Array, i: number): [number, number] {
  return [centers[i * 2], centers[i * 2 + 1]];
}

describe('generateSsdAnchors (BlazeFace back model)', () => {
  const anchors = generateSsdAnchors();

  it('makes 896 anchors: 512 at stride 16 (16×16 cells, 2 each), then 384 at stride 32 (8×8, 6 each)', () => {
    expect(anchors.count).toBe(896);
    expect(anchors.centers).toHaveLength(896 * 2);
    expect(anchors.groups).toEqual([
      { stride: 16, cols: 16, rows: 16, perCell: 2, start: 0, count: 512 },
      { stride: 32, cols: 8, rows: 8, perCell: 6, start: 512, count: 384 },
    ]);
  });

  it('walks cells row by row, column by column, with the cell anchors consecutive', () => {
    const { centers } = anchors;
    expect(center(centers, 0)).toEqual([0.5 / 16, 0.5 / 16]);
    expect(center(centers, 1)).toEqual([0.5 / 16, 0.5 / 16]);
    expect(center(centers, 2)).toEqual([1.5 / 16, 0.5 / 16]);
    expect(center(centers, 32)).toEqual([0.5 / 16, 1.5 / 16]);
    // Row 5, column 7, second anchor of the cell.
    expect(center(centers, (5 * 16 + 7) * 2 + 1)).toEqual([7.5 / 16, 5.5 / 16]);
    expect(center(centers, 511)).toEqual([15.5 / 16, 15.5 / 16]);
  });

  it('starts the stride-32 group at anchor 512 with six anchors per 8×8 cell', () => {
    const { centers } = anchors;
    for (let a = 0; a < 6; a++) expect(center(centers, 512 + a)).toEqual([0.5 / 8, 0.5 / 8]);
    expect(center(centers, 518)).toEqual([1.5 / 8, 0.5 / 8]);
    expect(center(centers, 512 + (2 * 8 + 3) * 6 + 4)).toEqual([3.5 / 8, 2.5 / 8]);
    expect(center(centers, 895)).toEqual([7.5 / 8, 7.5 / 8]);
  });

  it('keeps every centre inside the unit square, on cell centres', () => {
    for (let i = 0; i < anchors.count; i++) {
      const [x, y] = center(anchors.centers, i);
      const cells = i < 512 ? 16 : 8;
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(1);
      expect((x * cells - 0.5) % 1).toBeCloseTo(0, 6);
      expect((y * cells - 0.5) % 1).toBeCloseTo(0, 6);
    }
  });

  it('follows the options: the 128×128 front model (strides 8, 16, 16, 16) also has 512 + 384', () => {
    const front = generateSsdAnchors({ ...BLAZEFACE_BACK_ANCHOR_OPTIONS, inputWidth: 128, inputHeight: 128, strides: [8, 16, 16, 16] });
    expect(front.groups.map((g) => [g.stride, g.cols, g.perCell, g.count])).toEqual([
      [8, 16, 2, 512],
      [16, 8, 6, 384],
    ]);
  });

  it('rounds feature maps up for inputs not divisible by the stride, and honours the offset', () => {
    const odd = generateSsdAnchors({
      inputWidth: 40, inputHeight: 20, strides: [16], anchorsPerLayer: 1, anchorOffsetX: 0, anchorOffsetY: 0,
    });
    expect(odd.groups[0]).toMatchObject({ cols: 3, rows: 2, count: 6 });
    expect(center(odd.centers, 4)).toEqual([1 / 3, 1 / 2].map(Math.fround));
  });
});
