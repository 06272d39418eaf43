import type { BenchReport, BenchSetReport } from '../../tools/bench/bench-report';
import { formatReport } from '../../tools/bench/bench-report';
import type { PhaseResult } from '../../tools/bench/phase-result';

function phase(ips: number, batch: number | null, decodeP50: number): PhaseResult {
  return { imagesPerSecond: ips, images: 400, seconds: 400 / ips, stages: { decode: { p50: decodeP50, p95: 2 * decodeP50, n: 400 } }, averageBatchSize: batch, failed: 0, cpuMsPerImage: 2000 / ips, contention: 0.03 };
}

function set(name: string, scale: number, extra: Partial<BenchSetReport> = {}): BenchSetReport {
  const phases = {
    ceiling: phase(100 * scale, 8, 1),
    inProcess: phase(50 * scale, 7.5, 10 / scale),
    pipeline: { ...phase(45 * scale, 7, 10 / scale), workers: 1, rssPeakMb: 300, rssAtMb: {}, cpuMsPerImageBy: { workers: 40, redis: 1 }, busy: null },
    naive: phase(20 * scale, 1, 10 / scale),
  };
  const each = <T>(f: (p: PhaseResult) => T) => ({ ceiling: f(phases.ceiling), inProcess: f(phases.inProcess), pipeline: f(phases.pipeline), naive: f(phases.naive) });
  return {
    name,
    dir: `/sets/${name}`,
    photos: 12,
    photoNames: [],
    skipped: [],
    meanBytes: 2_650_000 * scale,
    meanMegapixels: 12.19,
    meanViews: 5,
    ...each((p) => p.imagesPerSecond),
    ratios: { pipelineVsInProcess: 0.9, pipelineVsCeiling: 0.45, pipelineVsNaive: 2.25 },
    rssPeakMb: 300,
    rssAtMb: {},
    averageBatchSize: { inProcess: 7.5, pipeline: 7 },
    cpuMsPerImage: each((p) => p.cpuMsPerImage),
    contention: each((p) => p.contention),
    stages: each((p) => p.stages),
    phases,
    roundsMeasured: {},
    roundRatios: {},
    targets: [
      { what: 'pipeline / in-process', target: 0.95, comparison: 'atLeast', measured: 0.9, met: false },
      { what: 'pipeline / naive', target: 2, comparison: 'atLeast', measured: 2.25, met: true },
      { what: 'RSS after 10,000 / after 1,000 images', target: 1, comparison: 'within', tolerance: 0.1, measured: null, met: null },
    ],
    ...extra,
  };
}

function report(): BenchReport {
  const samples = set('samples', 1, { photos: 8, meanBytes: 120_000, meanMegapixels: 0.45, meanViews: 1, skipped: [{ name: 'bad.jpg', code: 'E_DECODE', message: 'x' }] });
  const camera = set('camera', 0.5);
  return {
    model: { id: 'retinaface', version: '1', path: '/m.onnx', canvas: { width: 640, height: 640 }, dynamicBatch: true, maxTiles: 4, meanViews: 1 },
    settings: { batch: 8, threads: 0, workers: 1, concurrency: 24, maxWaitMs: 10, count: 400, seconds: 10, rounds: 1, imagesDir: '/sets/samples', photos: [], skipped: samples.skipped, enqueueKeys: 100_000 },
    host: { cpus: 2, cpuModel: 'cpu', memoryMb: 1000, node: 'v20', nice: 0, loadAverage: { start: 1, end: 1 }, env: {} },
    ceiling: samples.ceiling, inProcess: samples.inProcess, pipeline: samples.pipeline, naive: samples.naive,
    enqueuePerSecond: 12_000, enqueueAddBulkPerSecond: 14_000,
    ratios: samples.ratios, rssPeakMb: 300, rssAtMb: {}, averageBatchSize: samples.averageBatchSize,
    cpuMsPerImage: samples.cpuMsPerImage, contention: samples.contention, stages: samples.stages,
    phases: { ...samples.phases, enqueue: { keysPerSecond: 12_000, keys: 100_000, seconds: 8.3, cpuUsPerKey: { producer: 90, redis: 60 }, addBulkPerSecond: 14_000, addBulkCpuUsPerJob: { producer: 80, redis: 60 } } },
    roundsMeasured: {}, roundRatios: {},
    targets: [samples.targets[0], samples.targets[1], { what: 'enqueue keys/s', target: 20_000, comparison: 'atLeast', measured: 12_000, met: false }, samples.targets[2]],
    sweep: null, serve: null,
    sets: [samples, camera],
    warnings: [],
  };
}

/** The text from the `set <name>:` line up to the next set or the enqueue lines. */
function section(text: string, name: string): string {
  const start = text.indexOf(`set ${name}:`);
  expect(start).toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + 1);
  const end = rest.search(/^(set |enqueue:)/m);
  return end < 0 ? rest : rest.slice(0, end);
}

describe('benchmark report text, one section per photo set', () => {
  const text = formatReport(report());

  it('opens each set with its photos: count, folder, mean size, megapixels, canvases', () => {
    expect(text).toMatch(/^set samples: 8 photos from \/sets\/samples, mean 0\.12 MB and 0\.45 MP per photo, 1\.00 canvases per photo; skipped bad\.jpg \(E_DECODE\)$/m);
    expect(text).toMatch(/^set camera: 12 photos from \/sets\/camera, mean 1\.32 MB and 12\.2 MP per photo, 5\.00 canvases per photo$/m);
    expect(text.indexOf('set samples:')).toBeLessThan(text.indexOf('set camera:'));
  });

  it('puts every measurement, ratio, target and the stage table under its own set', () => {
    const samples = section(text, 'samples');
    const camera = section(text, 'camera');
    for (const [s, scale] of [[samples, 1], [camera, 0.5]] as const) {
      expect(s).toMatch(new RegExp(`^ceiling\\s+${(100 * scale).toFixed(scale === 1 ? 0 : 1)}\\s+400`, 'm'));
      expect(s).toMatch(/^in-process\s/m);
      expect(s).toMatch(/^pipeline \(1w\)\s/m);
      expect(s).toMatch(/^naive\s/m);
      expect(s).toMatch(/^ratios: pipeline\/in-process 0\.90, pipeline\/ceiling 0\.45, pipeline\/naive 2\.25$/m);
      expect(s).toMatch(/target pipeline \/ in-process ≥ 0\.95: 0\.90 \(missed by 0\.05/);
      expect(s).toMatch(/^stage p50\/p95 ms\s+ceiling\s+inProcess\s+pipeline\s+naive$/m);
      expect(s).not.toMatch(/enqueue/);
    }
    expect(samples).toMatch(/^decode\s+1\.00 \/ 2\.00\s+10\.0 \/ 20\.0\s+10\.0 \/ 20\.0\s+10\.0 \/ 20\.0$/m);
    expect(camera).toMatch(/^decode\s+1\.00 \/ 2\.00\s+20\.0 \/ 40\.0\s+20\.0 \/ 40\.0\s+20\.0 \/ 40\.0$/m);
  });

  it('prints enqueue and its target once, after the sets', () => {
    expect(text.match(/^enqueue: /gm)).toHaveLength(1);
    expect(text.match(/target enqueue keys\/s/g)).toHaveLength(1);
    expect(text.indexOf('enqueue: ')).toBeGreaterThan(text.indexOf('set camera:'));
    expect(text).not.toMatch(/canvases per photo\)/);
  });
});
