import { runBenchCli as facefleet } from '../support/bench-cli';

const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/**
 * The benchmark at a small count: it must complete and print its JSON with every key docs/benchmarks.md describes.
 * Figures are never asserted on — only that each measurement ran and produced a number.
 */
describe('facefleet bench', () => {
  it('runs every measurement and prints one JSON object with every key', async () => {
    const { code, stdout, stderr } = await facefleet(['bench', '--json', '--count', '16', '--batch', '4', '--seconds', '1', '--enqueue-keys', '2000']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(stdout);

    for (const key of ['ceiling', 'inProcess', 'pipeline', 'naive', 'enqueuePerSecond', 'rssPeakMb']) expect({ key, isNumber: isNumber(report[key]) }).toEqual({ key, isNumber: true });
    for (const key of ['pipelineVsInProcess', 'pipelineVsCeiling', 'pipelineVsNaive']) expect({ key, isNumber: isNumber(report.ratios?.[key]) }).toEqual({ key, isNumber: true });
    expect(isNumber(report.averageBatchSize.inProcess) && isNumber(report.averageBatchSize.pipeline)).toBe(true);
    for (const key of ['ceiling', 'inProcess', 'pipeline', 'naive']) {
      expect({ key, cpu: isNumber(report.cpuMsPerImage[key]), contention: isNumber(report.contention[key]) }).toEqual({ key, cpu: true, contention: true });
    }
    expect(Object.keys(report.stages).sort()).toEqual(['ceiling', 'inProcess', 'naive', 'pipeline']);
    for (const stage of ['download', 'decode', 'inferenceWithWait', 'postprocess']) {
      expect({ stage, q: Object.keys(report.stages.pipeline[stage] ?? {}).sort() }).toEqual({ stage, q: ['n', 'p50', 'p95'] });
    }
    expect(report.phases.pipeline.images).toBe(16);
    expect(report.phases.inProcess.images).toBe(16);
    expect(report.phases.enqueue.keys).toBe(2000);
    expect(isNumber(report.enqueueAddBulkPerSecond)).toBe(true);
    // Four of the queue and memory, three of the CPU view (stage profile and plain loop).
    expect(report.targets.map((t: { what: string }) => t.what)).toHaveLength(7);
    expect(report.sweep).toBeNull();
    expect(report.serve).toBeNull();
    // The bundled samples hold a truncated JPEG: skipped, never counted as a failure.
    expect(report.settings.skipped.map((s: { name: string }) => s.name)).toContain('corrupt-truncated.jpg');
    expect(report.phases.pipeline.failed + report.phases.naive.failed + report.phases.inProcess.failed).toBe(0);
    // Progress of the long phases goes to stderr, keeping stdout to the JSON alone.
    expect(stderr).toMatch(/pipeline, 1 worker process\(es\)…/);
  });

  it('prints the sweep against batch size and worker processes as a table', async () => {
    const { code, stdout, stderr } = await facefleet(['bench', '--count', '8', '--seconds', '0.5', '--phases', 'none', '--sweep', '--batches', '1,2', '--sweep-workers', '1', '--sweep-phases', 'ceiling,pipeline']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^sweep \(images\/s\):$/m);
    expect(stdout).toMatch(/^batch\s+ceiling\s+in-process\s+pipeline 1w\s+peak RSS 1w\s+other load$/m);
    // Rows: batch, ceiling, in-process (not measured: -), pipeline, peak RSS, other processes' CPU share.
    expect(stdout).toMatch(/^1\s+[\d.]+\s+-\s+[\d.]+\s+\d+ MB\s+\d+%$/m);
    expect(stdout).toMatch(/^2\s+[\d.]+\s+-\s+[\d.]+\s+\d+ MB\s+\d+%$/m);
  });

  it('loads facefleet serve with batching on and off at 1, 8 and 32 callers', async () => {
    const { code, stdout, stderr } = await facefleet(['bench', '--json', '--phases', 'none', '--serve', '--serve-seconds', '0.3']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const rows = JSON.parse(stdout).serve as Array<{ batching: boolean; concurrency: number; requests: number; errors: number; rps: number; p50Ms: number; p95Ms: number }>;
    expect(rows.map((r) => [r.batching, r.concurrency])).toEqual([[true, 1], [true, 8], [true, 32], [false, 1], [false, 8], [false, 32]]);
    for (const r of rows) expect({ errors: r.errors, answered: r.requests > 0, numbers: [r.rps, r.p50Ms, r.p95Ms].every(isNumber) }).toEqual({ errors: 0, answered: true, numbers: true });
  });

  it('refuses a bad flag before loading anything, naming the flag', async () => {
    const { code, stderr } = await facefleet(['bench', '--count', '0']);
    expect(code).toBe(64);
    expect(stderr).toMatch(/--count: expected an integer from 1 to 10000000|--count: expected a number from 1/);
  });
});
