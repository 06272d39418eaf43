import type { BenchReport } from '../../tools/bench/bench-report';
import { formatReport } from '../../tools/bench/bench-report';

function phase(ips: number, batch: number | null) {
  return { imagesPerSecond: ips, images: 400, seconds: 400 / ips, stages: { decode: { p50: 10, p95: 20, n: 400 } }, averageBatchSize: batch, failed: 0, cpuMsPerImage: 2000 / ips, contention: 0.04 };
}

function report(): BenchReport {
  return {
    model: { id: 'blazeface', version: '1.2.0', path: '/m.onnx', canvas: { width: 256, height: 256 }, dynamicBatch: true },
    settings: { batch: 8, threads: 0, workers: 1, concurrency: 24, maxWaitMs: 10, count: 400, seconds: 10, rounds: 1, imagesDir: '/s', photos: ['a.jpg'], skipped: [{ name: 'bad.jpg', code: 'E_DECODE', message: 'x' }], enqueueKeys: 100_000 },
    host: { cpus: 2, cpuModel: 'cpu', memoryMb: 1000, node: 'v20', nice: 0, loadAverage: { start: 0.5, end: 0.7 }, env: {} },
    ceiling: 180, inProcess: 80, pipeline: 76, naive: 40, enqueuePerSecond: 25_000, enqueueAddBulkPerSecond: 40_000,
    ratios: { pipelineVsInProcess: 0.95, pipelineVsCeiling: 0.422, pipelineVsNaive: 1.9 },
    rssPeakMb: 300,
    rssAtMb: { '1000': 280, '10000': 290 },
    averageBatchSize: { inProcess: 7.9, pipeline: 7.5 },
    cpuMsPerImage: { ceiling: 11.1, inProcess: 25, pipeline: 26.3, naive: 50 },
    contention: { ceiling: 0.04, inProcess: 0.04, pipeline: 0.04, naive: 0.04 },
    stages: { ceiling: null, inProcess: phase(80, 7.9).stages, pipeline: phase(76, 7.5).stages, naive: phase(40, 1).stages },
    phases: { ceiling: phase(180, 8), inProcess: phase(80, 7.9), pipeline: { ...phase(76, 7.5), workers: 1, rssPeakMb: 300, rssAtMb: {}, cpuMsPerImageBy: { workers: 25, redis: 1.3 }, busy: null }, naive: phase(40, 1), enqueue: { keysPerSecond: 25_000, keys: 100_000, seconds: 4, cpuUsPerKey: { producer: 30, redis: 12 }, addBulkPerSecond: 40_000, addBulkCpuUsPerJob: { producer: 20, redis: 10 } } },
    roundsMeasured: {},
    roundRatios: { pipelineVsInProcess: { perRound: [0.9, 0.95, 1.01], median: 0.95 } },
    targets: [
      { what: 'pipeline / in-process', target: 0.95, comparison: 'atLeast', measured: 0.95, met: true },
      { what: 'pipeline / naive', target: 2, comparison: 'atLeast', measured: 1.9, met: false },
      { what: 'RSS after 10,000 / after 1,000 images', target: 1, comparison: 'within', tolerance: 0.1, measured: 1.25, met: false },
    ],
    sweep: [{ batch: 1, ceiling: 150, inProcess: 60, pipeline: { '1': 55, '2': 58 }, rssPeakMb: { '1': 250, '2': 240 }, contention: 0.02 }],
    serve: null,
    warnings: ['random-init'],
  };
}

describe('benchmark report text', () => {
  const text = formatReport(report());

  it('lists each measurement with images/s', () => {
    expect(text).toMatch(/^ceiling\s+180\s+400\s+2\.22\s+8\.00\s+11\.1\s+4%$/m);
    expect(text).toMatch(/^pipeline \(1w\)\s+76\.0\s+400/m);
    expect(text).toMatch(/^enqueue: 25,000 keys\/s \(100,000 keys in 4\.00 s; CPU µs\/key: producer 30\.0, redis-server 12\.0\)$/m);
    expect(text).toMatch(/^ {2}BullMQ addBulk alone, same jobs: 40,000 jobs\/s \(CPU µs\/job: producer 20\.0, redis-server 10\.0\); enqueue \/ addBulk 0\.63$/m);
  });

  it('lists the ratios of each round with their median', () => {
    expect(text).toMatch(/^ {2}pipelineVsInProcess per round: 0\.90, 0\.95, 1\.01 \(median 0\.95\)$/m);
  });

  it('says which targets were met and by how much the others were missed', () => {
    expect(text).toMatch(/target pipeline \/ in-process ≥ 0\.95: 0\.95 \(met\)/);
    expect(text).toMatch(/target pipeline \/ naive ≥ 2: 1\.90 \(missed by 0\.10 \(5\.0%\)\)/);
    expect(text).toMatch(/target RSS after 10,000 \/ after 1,000 images 1 ± 0\.1: 1\.25 \(missed by 0\.15 \(15\.0%\)\)/);
  });

  it('prints memory, skipped photos, the stage table, the sweep and warnings', () => {
    expect(text).toMatch(/worker peak RSS: 300 MB; RSS after 1,000 images 280 MB, after 10,000 images 290 MB/);
    expect(text).toMatch(/skipped bad\.jpg \(E_DECODE\)/);
    expect(text).toMatch(/^decode\s+10\.0 \/ 20\.0\s+10\.0 \/ 20\.0\s+10\.0 \/ 20\.0$/m);
    expect(text).toMatch(/^1\s+150\s+60\.0\s+55\.0\s+58\.0\s+250 MB\s+240 MB\s+2%$/m);
    expect(text).toMatch(/^warning: random-init$/m);
  });
});
