import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { PrPlotCurve, renderPrPlotPng, renderPrPlotSvg } from '../../src/eval/pr-plot';
import { averagePrecision, prCurve } from '../../src/eval/score';

/** A long curve: 2,000 detections, true positives more likely at high scores. */
function longCurve(): PrPlotCurve {
  const detections = Array.from({ length: 2000 }, (_, i) => ({ score: 1 - i / 2000, outcome: (i % 7 === 3 || i > 1500 ? 'fp' : 'tp') as 'tp' | 'fp' }));
  const points = prCurve(detections, 1800);
  return { name: 'blazeface 1.2.0', points, ap: averagePrecision(points), operating: { recall: points[1000].recall, precision: points[1000].precision, scoreThreshold: 0.5 } };
}

describe('PR plot', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-eval-plot-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a PNG of the requested size', async () => {
    const curve = longCurve();
    const file = path.join(dir, 'pr-curve.png');
    const lower = { name: 'other', points: curve.points.map((p) => ({ recall: p.recall * 0.8, precision: p.precision * 0.7 })), ap: 0.5 };
    fs.writeFileSync(file, await renderPrPlotPng([curve, lower], { width: 640, height: 480, subtitle: 'test set' }));
    const meta = await sharp(file).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 640, height: 480 });
    // Something is drawn in the curve's colour (blue) inside the plot area, not only background and grid.
    const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let blue = 0;
    for (let p = 0; p < data.length; p += info.channels) if (data[p + 2] > 180 && data[p] < 80 && data[p + 1] < 140) blue++;
    expect(blue).toBeGreaterThan(500);
  });

  it('puts names, APs, the operating threshold and axis labels in the SVG, escaped', () => {
    const curve = longCurve();
    const svg = renderPrPlotSvg([curve, { name: 'mog<face> & co', points: curve.points, ap: 0.8125 }], { title: 'WIDER val' });
    expect(svg).toContain(`blazeface 1.2.0 · <tspan font-weight="bold">AP ${curve.ap!.toFixed(3)}</tspan>`);
    expect(svg).toContain('mog&lt;face&gt; &amp; co · <tspan font-weight="bold">AP 0.813</tspan>');
    expect(svg).toContain('t = 0.50');
    expect(svg).toContain('>Recall</text>');
    expect(svg).toContain('>Precision</text>');
    expect(svg).toContain('>WIDER val</text>');
    expect(svg).not.toContain('NaN');
  });

  it('keeps the path of a long curve short and draws no marker without an operating point', () => {
    const curve = longCurve();
    const svg = renderPrPlotSvg([{ ...curve, operating: undefined }]);
    const paths = [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]);
    expect(paths).toHaveLength(2);
    for (const d of paths) expect(d.split('L').length).toBeLessThan(curve.points.length);
    expect(svg).not.toContain('t = ');
  });

  it('draws an empty chart (axes and legend) for a curve without points', async () => {
    const svg = renderPrPlotSvg([{ name: 'none', points: [], ap: null }]);
    expect(svg).not.toContain('<path');
    expect(svg).toContain('none · <tspan font-weight="bold">AP n/a</tspan>');
    const meta = await sharp(await renderPrPlotPng([{ name: 'none', points: [], ap: null }])).metadata();
    expect(meta).toMatchObject({ width: 800, height: 600 });
  });
});
