import { defaultInferenceThreads } from '../../src/config/device-defaults';
import { usableCores } from '../../src/host/cpu-quota';
import { runBenchCli as facefleet } from '../support/bench-cli';

/** The worker's intra-op threads when `--threads` is not set, on this machine's CPU. */
const DEFAULT_THREADS = defaultInferenceThreads(['cpu'], usableCores(), 'retinaface');

interface Row {
  batch: number;
  intraOpThreads: number;
  mode: string;
  interOpThreads: number;
  imagesPerSecond: number;
  images: number;
  cpuMsPerImage: number;
  runMs: { p50: number; p95: number; n: number };
}

const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * `facefleet bench --phases inference` on the real RetinaFace (pulled into the model cache on first
 * use): a tiny grid runs through real inference threads, one per session setting, and every row has
 * figures. Only that they exist and are positive is asserted, never how large they are.
 */
describe('facefleet bench --phases inference', () => {
  it('runs every point of the grid on RetinaFace and places the defaults against the cheapest and fastest row', async () => {
    const grid = ['--inference-batches', '1,8', '--intra-threads', '0,1', '--execution-modes', 'sequential,parallel:2', '--inference-seconds', '0.3'];
    const { code, stdout, stderr } = await facefleet(['bench', '--json', '--phases', 'inference', ...grid]);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const g = JSON.parse(stdout).inference as { model: string; canvas: { width: number }; rows: Row[]; productDefaults: Row; choice: Record<string, number | null> };
    expect(g.model).toMatch(/^retinaface /);
    expect(g.canvas.width).toBe(640);

    // Each session's rows adjacent: intra-op, then execution, then batch.
    expect(g.rows.map((r) => [r.intraOpThreads, r.mode, r.interOpThreads, r.batch])).toEqual([
      [0, 'sequential', 1, 1], [0, 'sequential', 1, 8], [0, 'parallel', 2, 1], [0, 'parallel', 2, 8],
      [1, 'sequential', 1, 1], [1, 'sequential', 1, 8], [1, 'parallel', 2, 1], [1, 'parallel', 2, 8],
    ]);
    for (const r of g.rows) {
      const figures = [r.imagesPerSecond, r.cpuMsPerImage, r.runMs.p50, r.runMs.p95];
      expect({ batch: r.batch, positive: figures.every(positive), whole: r.images >= r.batch && r.images % r.batch === 0 }).toEqual({ batch: r.batch, positive: true, whole: true });
    }
    const cpu = g.rows.map((r) => r.cpuMsPerImage);
    const rate = g.rows.map((r) => r.imagesPerSecond);
    expect(cpu[g.choice.cheapest!]).toBe(Math.min(...cpu));
    expect(rate[g.choice.fastest!]).toBe(Math.max(...rate));
    // The product's CPU defaults: batch 1, half the cores' intra-op threads, sequential; placed on its row when the grid has it.
    expect(g.productDefaults).toMatchObject({ batch: 1, intraOpThreads: DEFAULT_THREADS, mode: 'sequential' });
    const productRow = g.rows.findIndex((r) => r.batch === 1 && r.intraOpThreads === DEFAULT_THREADS && r.mode === 'sequential');
    expect(g.choice.product).toBe(productRow === -1 ? null : productRow);
    if (productRow !== -1) expect(g.choice.productCpuVsCheapest).toBeGreaterThanOrEqual(1);

    expect(stderr).toMatch(/^inference 1\/8: batch 1, intra-op 0 \(onnxruntime decides\), sequential…$/m);
    expect(stderr).toMatch(/^inference 8\/8: batch 8, intra-op 1, parallel with 2 inter-op threads…$/m);
  });

  it('prints the grid as a table with a row per setting and the choice beneath', async () => {
    const { code, stdout, stderr } = await facefleet(['bench', '--phases', 'inference', '--inference-batches', '1,2', '--intra-threads', '1', '--execution-modes', 'sequential', '--inference-seconds', '0.3']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^inference \(retinaface [^,]+, 640×640, CPU\): .*0\.3 s per row/m);
    expect(stdout).toMatch(/^batch\s+intra-op\s+execution\s+images\/s\s+CPU ms\/image\s+vs cheapest\s+wall ms\/batch\s+other load$/m);
    const rows = [...stdout.matchAll(/^(\d+)\s+1\s+sequential\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+\d+%/gm)];
    expect(rows.map((m) => m[1])).toEqual(['1', '2']);
    for (const m of rows) expect(m.slice(2).map(Number).every((v) => v > 0)).toBe(true);
    expect(stdout).toMatch(/^cheapest CPU per image: batch [12], intra-op 1, sequential: [\d.]+ CPU ms\/image, [\d.]+ images\/s$/m);
    // The grid runs intra-op 1 only: the defaults are in it where they are one thread (2 or 3 cores).
    const defaults = new RegExp(`^product defaults \\(batch 1, intra-op ${DEFAULT_THREADS}, sequential\\): ${DEFAULT_THREADS === 1 ? '[\\d.]+ CPU ms/image, [\\d.]+ × the cheapest' : 'not in this grid$'}`, 'm');
    expect(stdout).toMatch(defaults);
  });
});
