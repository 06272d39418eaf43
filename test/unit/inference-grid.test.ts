import os from 'node:os';
import { FacefleetError } from '../../src/errors';
import { loadModelConfig } from '../../src/config/model-config';
import { baseSessionOptions, DEFAULT_EXECUTION_MODE } from '../../src/inference/session-options';
import { loadBenchOptions } from '../../tools/bench/bench-options';
import {
  InferenceGridReport,
  InferenceRow,
  InferenceSetting,
  chooseInference,
  defaultIntraOpThreads,
  formatInferenceGrid,
  inferenceGrid,
  medianRound,
  parseExecution,
  productSetting,
  sessionKey,
} from '../../tools/bench/inference-grid';

const sequential = { mode: 'sequential', interOpThreads: 1 } as const;
const parallel = (n: number) => ({ mode: 'parallel', interOpThreads: n }) as const;

function row(setting: InferenceSetting, imagesPerSecond: number, cpuMsPerImage: number | null, images = 100): InferenceRow {
  return { ...setting, imagesPerSecond, images, seconds: 2, cpuMsPerImage, runMs: { p50: 1000 / imagesPerSecond, p95: 1000 / imagesPerSecond, n: images }, contention: 0 };
}

const at = (batch: number, intraOpThreads: number, e: { mode: 'sequential' | 'parallel'; interOpThreads: number } = sequential): InferenceSetting => ({ batch, intraOpThreads, ...e });

describe('inference grid: execution settings', () => {
  it('reads sequential and parallel:N, parallel alone as onnxruntime choosing the inter-op threads', () => {
    expect(parseExecution('sequential')).toEqual(sequential);
    expect(parseExecution(' Parallel:2 ')).toEqual(parallel(2));
    expect(parseExecution('parallel')).toEqual(parallel(0));
    for (const bad of ['seq', 'parallel:', 'parallel:x', 'parallel:-1', 'parallel:300', 'sequential:2', '']) expect({ bad, parsed: parseExecution(bad) }).toEqual({ bad, parsed: null });
  });

  it('takes 1, every core and 0 as the default intra-op threads, without repeating 1 on one core', () => {
    expect(defaultIntraOpThreads(2)).toEqual([1, 2, 0]);
    expect(defaultIntraOpThreads(8)).toEqual([1, 8, 0]);
    expect(defaultIntraOpThreads(1)).toEqual([1, 0]);
  });
});

describe('inference grid: points', () => {
  it('crosses batches, intra-op threads and execution settings, one session per block of adjacent rows', () => {
    const grid = inferenceGrid([1, 2, 4, 8], [1, 2, 0], [sequential, parallel(1), parallel(2)]);
    expect(grid).toHaveLength(4 * 3 * 3);
    const keys = grid.map(sessionKey);
    const blocks = keys.filter((k, i) => i === 0 || keys[i - 1] !== k);
    expect(blocks).toHaveLength(9);
    expect(new Set(blocks).size).toBe(9);
    expect(grid.slice(0, 4).map((s) => s.batch)).toEqual([1, 2, 4, 8]);
  });

  it('drops duplicates, and gives sequential rows one inter-op thread whatever was asked', () => {
    const grid = inferenceGrid([1, 1, 4], [0], [{ mode: 'sequential', interOpThreads: 2 }, sequential, parallel(2), parallel(2)]);
    expect(grid).toEqual([at(1, 0), at(4, 0), at(1, 0, parallel(2)), at(4, 0, parallel(2))]);
  });

  it("takes the product's settings from the model options' defaults and the session's execution mode", () => {
    const defaults = loadModelConfig({}, {});
    expect(productSetting(defaults, true)).toEqual({ batch: defaults.batch, intraOpThreads: defaults.threads, mode: DEFAULT_EXECUTION_MODE, interOpThreads: 1 });
    expect(productSetting({ batch: 8, threads: 0 }, false).batch).toBe(1);
    // What the session is started with when the thread config names no mode.
    expect(baseSessionOptions({ intraOpThreads: 0, interOpThreads: 1 }).executionMode).toBe(DEFAULT_EXECUTION_MODE);
    expect(baseSessionOptions({ intraOpThreads: 0, interOpThreads: 2, executionMode: 'parallel' })).toMatchObject({ executionMode: 'parallel', interOpNumThreads: 2 });
  });
});

describe('inference grid: the choice', () => {
  const product = at(8, 0);

  it('marks the least CPU per image as cheapest and the most images/s as fastest, and places the defaults against them', () => {
    const rows = [row(at(1, 1), 90, 10), row(at(8, 1), 80, 8), row(at(8, 2), 120, 14), row(at(8, 0), 110, 12)];
    const c = chooseInference(rows, product);
    expect([c.cheapest, c.fastest, c.product]).toEqual([1, 2, 3]);
    expect(c.productCpuVsCheapest).toBe(1.5);
    expect(c.productRateVsFastest).toBe(0.917);
  });

  it('breaks a CPU tie by images/s and an images/s tie by CPU', () => {
    const rows = [row(at(1, 1), 50, 10), row(at(2, 1), 60, 10), row(at(4, 1), 60, 9.5)];
    const c = chooseInference(rows, product);
    expect(c.cheapest).toBe(2);
    expect(c.fastest).toBe(2);
    const tie = chooseInference([row(at(1, 1), 50, 10), row(at(2, 1), 60, 10)], product);
    expect([tie.cheapest, tie.fastest]).toEqual([1, 1]);
  });

  it('ignores rows that ran nothing or have no CPU reading, and matches parallel rows on their inter-op threads', () => {
    const rows = [row(at(8, 0, parallel(1)), 200, 1, 0), row(at(8, 0, parallel(1)), 70, null), row(at(8, 0, parallel(2)), 60, 20), row(at(8, 0), 50, 30)];
    const c = chooseInference(rows, at(8, 0, parallel(2)));
    expect([c.cheapest, c.fastest, c.product]).toEqual([2, 1, 2]);
    expect(c.productCpuVsCheapest).toBe(1);
  });

  it('says so when the defaults are not in the grid', () => {
    const c = chooseInference([row(at(1, 1), 90, 10)], product);
    expect(c.product).toBeNull();
    expect(c.productCpuVsCheapest).toBeNull();
    expect(chooseInference([], product)).toEqual({ cheapest: null, fastest: null, product: null, productCpuVsCheapest: null, productRateVsFastest: null });
  });
});

describe('inference grid: rounds', () => {
  it('keeps the round with the median CPU per image whole, and every round beside it', () => {
    const rounds = [row(at(8, 0), 100, 12), row(at(8, 0), 90, 10), row(at(8, 0), 130, 11), row(at(8, 0), 80, null)];
    const m = medianRound(rounds.slice(0, 3));
    expect([m.imagesPerSecond, m.cpuMsPerImage]).toEqual([130, 11]);
    expect(m.rounds).toEqual([{ imagesPerSecond: 100, cpuMsPerImage: 12 }, { imagesPerSecond: 90, cpuMsPerImage: 10 }, { imagesPerSecond: 130, cpuMsPerImage: 11 }]);
    // A round without a CPU reading sorts last; of an even count the lower middle is kept.
    expect(medianRound(rounds).cpuMsPerImage).toBe(11);
    expect(medianRound([rounds[1]])).toEqual(rounds[1]);
    expect(() => medianRound([])).toThrow(RangeError);
  });
});

describe('inference grid: the text', () => {
  function report(rows: InferenceRow[], productDefaults: InferenceSetting): InferenceGridReport {
    return { model: 'm 1', canvas: { width: 640, height: 640 }, cores: 2, seconds: 2, rounds: 1, allowSpinning: false, productDefaults, rows, choice: chooseInference(rows, productDefaults) };
  }

  it('prints a row per setting with its marks, then the cheapest, the fastest and the defaults against them', () => {
    const lines = formatInferenceGrid(report([row(at(1, 1), 90, 10), row(at(8, 2, parallel(2)), 120, 14), row(at(8, 0), 110, 12)], at(8, 0)));
    expect(lines[1]).toMatch(/^batch\s+intra-op\s+execution\s+images\/s\s+CPU ms\/image\s+vs cheapest\s+wall ms\/batch\s+other load$/);
    expect(lines[2]).toMatch(/^1\s+1\s+sequential\s+90\.0\s+10\.0\s+1\.00\s+11\.1\s+0%\s+← cheapest$/);
    expect(lines[3]).toMatch(/^8\s+2\s+parallel:2\s+120\s+14\.0\s+1\.40\s+8\.33\s+0%\s+← fastest$/);
    expect(lines[4]).toMatch(/^8\s+0 \(auto\)\s+sequential\s+110\s+12\.0\s+1\.20\s+9\.09\s+0%\s+← defaults$/);
    expect(lines).toContain('cheapest CPU per image: batch 1, intra-op 1, sequential: 10.0 CPU ms/image, 90.0 images/s');
    expect(lines).toContain('fastest: batch 8, intra-op 2, parallel with 2 inter-op threads: 14.0 CPU ms/image, 120 images/s');
    expect(lines).toContain('product defaults (batch 8, intra-op 0 (onnxruntime decides), sequential): 12.0 CPU ms/image, 1.20 × the cheapest; 110 images/s, 0.92 × the fastest');
  });

  it('marks one row with every title it holds, and names defaults outside the grid', () => {
    const lines = formatInferenceGrid(report([row(at(1, 1), 90, 10)], at(8, 0)));
    expect(lines[2]).toMatch(/← cheapest, fastest$/);
    expect(lines[0]).toMatch(/, 2 s per row, 2 cores;/);
    expect(formatInferenceGrid({ ...report([row(at(1, 1), 90, 10)], at(8, 0)), rounds: 3 })[0]).toMatch(/, 2 s per row \(median of 3 rounds by CPU\), 2 cores;/);
    expect(lines[lines.length - 1]).toBe('product defaults (batch 8, intra-op 0 (onnxruntime decides), sequential): not in this grid');
  });
});

describe('inference grid: options', () => {
  function message(flags: Record<string, unknown>): string {
    try {
      loadBenchOptions({ images: '/photos', ...flags }, {});
    } catch (err) {
      expect(err).toBeInstanceOf(FacefleetError);
      return (err as Error).message;
    }
    throw new Error('expected a configuration error');
  }

  it('defaults to batches 1, 2, 4, 8, intra-op 1, every core and 0, sequential and parallel with 1 and 2 inter-op threads, 2 s a row', () => {
    const o = loadBenchOptions({ images: '/photos' }, {});
    expect(o.inferenceBatches).toEqual([1, 2, 4, 8]);
    expect(o.intraThreads).toEqual(defaultIntraOpThreads(os.cpus().length));
    expect(o.executionModes).toEqual([sequential, parallel(1), parallel(2)]);
    expect(o.inferenceSeconds).toBe(2);
    expect(o.phases.has('inference')).toBe(false);
  });

  it('reads the grid from commander strings and takes inference as a phase', () => {
    const o = loadBenchOptions({ images: '/photos', phases: 'inference', inferenceBatches: '2,4', intraThreads: '0,3', executionModes: 'parallel:4,sequential', inferenceSeconds: '0.5' }, {});
    expect([...o.phases]).toEqual(['inference']);
    expect([o.inferenceBatches, o.intraThreads, o.executionModes, o.inferenceSeconds]).toEqual([[2, 4], [0, 3], [parallel(4), sequential], 0.5]);
  });

  it('names the flag, what was expected and what was given', () => {
    expect(message({ executionModes: 'sequential,turbo' })).toMatch(/--execution-modes: expected a comma-separated list of sequential, parallel:N \(N from 0 to 256\); given "sequential,turbo"/);
    expect(message({ intraThreads: '1,-1' })).toMatch(/--intra-threads: expected a number from 0 to 256; given "-1"/);
    expect(message({ inferenceBatches: '0' })).toMatch(/--inference-batches: expected a number from 1 to 256; given "0"/);
    expect(message({ inferenceSeconds: '0' })).toMatch(/--inference-seconds: expected a number from 0.1 to 3600; given "0"/);
  });
});
