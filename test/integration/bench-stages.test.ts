// Before onnxruntime loads: the plain loop runs a session on this thread, inside Jest's sandbox.
import '../support/ort-main-realm';
import { loadBenchOptions } from '../../tools/bench/bench-options';
import { formatReport } from '../../tools/bench/bench-report';
import { CPU_STAGES, IN_PROCESS_STAGES, stageSum } from '../../tools/bench/cpu-limit';
import type { CpuReport } from '../../tools/bench/cpu-report';
import { checkPython } from '../../tools/bench/plain-loop-python';
import { silentProgress } from '../../tools/bench/progress';
import { runBench } from '../../tools/bench/run-bench';

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The benchmark's settings come from its flags alone, not from the test runner's environment. */
function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(FACEFLEET_(?!MODEL_CACHE$)|REDIS_URL$)/.test(k)));
}

/**
 * A short benchmark with the stage profile and the plain loops beside in-process and the pipeline
 * (`--sets samples --count 8 --batch 4`), run in this process with the flags as commander passes them.
 * Figures are never judged: only that each was measured, is a plausible non-negative number, and that
 * sums and splits add up to their parts.
 */
describe('facefleet bench --phases in-process,pipeline,stages,plain-loop', () => {
  let cpu: CpuReport;
  let text: string;
  let report: Awaited<ReturnType<typeof runBench>>;

  beforeAll(async () => {
    const options = loadBenchOptions({ sets: 'samples', count: '8', batch: '4', phases: 'in-process,pipeline,stages,plain-loop', seconds: '1' }, cleanEnv());
    report = JSON.parse(JSON.stringify(await runBench(options, silentProgress)));
    cpu = report.sets![0].cpu!;
    text = formatReport(report);
  }, 600_000);

  it('profiles every stage alone, and the stage sum is the sum of its parts', () => {
    const p = cpu.stageProfile!;
    expect(p.images).toBe(8);
    expect(Object.keys(p.cpuMs)).toEqual([...CPU_STAGES]);
    for (const stage of CPU_STAGES) expect({ stage, ok: isNumber(p.cpuMs[stage]) && p.cpuMs[stage]! >= 0 }).toEqual({ stage, ok: true });
    // Decoding and running the model are never free; reading a small file costs less than decoding it.
    expect(p.cpuMs.decode!).toBeGreaterThan(0);
    expect(p.cpuMs.inference!).toBeGreaterThan(0);
    expect(p.sumMs).toBeCloseTo(stageSum(p.cpuMs), 2);
    expect(p.queue!.jobs).toBeGreaterThanOrEqual(1000);
    expect(p.cpuMs.queue).toBeCloseTo(p.queue!.cpuMs, 2);
    expect(p.queue!.workerCpuMs + p.queue!.redisCpuMs).toBeCloseTo(p.queue!.cpuMs, 2);
  });

  it('computes the CPU limit from the stage sums and the cores', () => {
    expect(cpu.stageSumMs.all).toBeCloseTo(cpu.stageProfile!.sumMs, 1);
    expect(cpu.stageSumMs.inProcess).toBeCloseTo(stageSum(cpu.stageProfile!.cpuMs, IN_PROCESS_STAGES), 1);
    expect(cpu.cpuLimit.all!).toBeCloseTo((cpu.cores * 1000) / cpu.stageProfile!.sumMs, 0);
    expect(cpu.cpuLimit.inProcess!).toBeGreaterThanOrEqual(cpu.cpuLimit.all!);
    expect(cpu.ratios.inProcessVsCpuLimit).toBeCloseTo(report.sets![0].inProcess! / cpu.cpuLimit.inProcess!, 1);
  });

  it('splits each measurement\'s core time into stages, wasted CPU, other processes and idle cores', () => {
    for (const [name, gap] of Object.entries(cpu.gaps)) {
      // CPU read in 10 ms ticks from procfs may exceed the core time by a little; nothing more.
      expect({ name, numbers: [gap!.coreMs, gap!.stagesMs, gap!.otherMs, gap!.idleMs].every((v) => isNumber(v) && v >= -0.05 * gap!.coreMs) }).toEqual({ name, numbers: true });
      expect(gap!.stagesMs + gap!.wastedMs + gap!.otherMs + gap!.idleMs).toBeCloseTo(gap!.coreMs, 6);
    }
    const busy = cpu.inProcessBusy!;
    for (const share of [busy.inferenceThread, busy.decodeSlots, busy.mainThread]) expect(isNumber(share) && share >= 0 && share <= 1.05).toBe(true);
  });

  it("reads the pipeline worker's busy shares from its metrics, and prints them", () => {
    const busy = cpu.pipelineBusy!;
    // The worker ran the model and decoded every image in the measured window: neither share is zero.
    expect(busy.inferenceThread! > 0 && busy.inferenceThread! <= 1.05).toBe(true);
    expect(busy.decodeSlots! > 0 && busy.decodeSlots! <= 1.05).toBe(true);
    expect(busy.mainThread! > 0 && busy.mainThread! <= 1.05).toBe(true);
    expect(report.sets![0].phases.pipeline!.busy).toEqual(busy);
    expect(text).toMatch(/^pipeline: .*; busy \(per worker\): inference thread \d+%, decode slots \d+%, main thread \d+% of wall$/m);
  });

  it('measures JPEG decode cost: every pixel, 1/4 scale and the canvas, judging it only on photos 4 × the canvas', () => {
    const d = cpu.decodeCost!;
    // The samples hold JPEGs; their sizes are under 4 × 640, so the ratio is printed but not judged.
    expect(d.photos).toBeGreaterThan(0);
    expect(d.canvas).toBe(640);
    for (const v of [d.cpuMs.full, d.cpuMs.quarter, d.cpuMs.canvas, d.cpuMs.canvasTiles]) expect(isNumber(v) && v! > 0).toBe(true);
    expect(d.canvasVsQuarter).toBeCloseTo(d.cpuMs.canvas / d.cpuMs.quarter, 2);
    expect(d.judged).toBe(false);
    expect(report.sets![0].targets.map((t) => t.what).some((w) => w.startsWith('decode to the'))).toBe(false);
    expect(text).toMatch(/^decode, one JPEG at a time \(\d+ photos × 3\), CPU ms: every pixel [\d.]+, at 1\/4 scale [\d.]+, to the 640 canvas [\d.]+, with its tiles [\d.]+; canvas \/ 1\/4 scale [\d.]+ \(not judged: photos under 4 × the canvas\)$/m);
  });

  it('runs the TypeScript plain loop over the same images, its stages within its total CPU', () => {
    const plain = cpu.plainLoop!;
    expect(plain.images).toBe(8);
    expect(plain.imagesPerSecond).toBeGreaterThan(0);
    expect(Object.keys(plain.stageCpuMs)).toEqual(['read', 'probe', 'decode', 'pack', 'inference', 'outputs', 'write']);
    for (const [stage, ms] of Object.entries(plain.stageCpuMs)) expect({ stage, ok: isNumber(ms) && ms >= 0 }).toEqual({ stage, ok: true });
    // The stages are inside the loop: their sum cannot exceed what the whole loop used.
    expect(stageSum(plain.stageCpuMs)).toBeLessThanOrEqual(plain.cpuMsPerImage! + 0.05);
    expect(cpu.stageRatios.map((r) => r.stage)).toEqual(['read', 'probe', 'decode', 'pack', 'inference', 'outputs', 'write']);
  });

  it('runs the Python plain loop when python3 has its modules, and says why not otherwise', () => {
    const python = checkPython();
    if (python.available) {
      expect(cpu.plainLoopPython!.images).toBe(8);
      expect(Object.keys(cpu.plainLoopPython!.stageCpuMs)).toEqual(['read', 'probe', 'decode', 'pack', 'inference', 'outputs', 'write']);
      expect(stageSum(cpu.plainLoopPython!.stageCpuMs)).toBeLessThanOrEqual(cpu.plainLoopPython!.cpuMsPerImage! + 0.05);
      expect(text).toMatch(/^plain loop \(Python: Pillow draft, onnxruntime 1 thread, batch 1\)\s+[\d.]+\s+8\s/m);
    } else {
      expect(cpu.plainLoopPython).toBeNull();
      expect(cpu.plainLoopPythonSkipped).toBe(python.reason);
      expect(text).toContain(`plain loop (Python): not run: ${python.reason}`);
    }
  });

  it('prints the plain loop, the stage table, the CPU limit and the CPU targets', () => {
    expect(text).toMatch(/^plain loop \(TypeScript: sharp, onnxruntime 1 thread, batch 1\)\s+[\d.]+\s+8\s/m);
    expect(text).toMatch(/^CPU ms\/image by stage\s+stage profile\s+wall\s+plain loop TS/m);
    for (const label of ['read (file read)', 'decode + resize (sharp, tiles)', 'inference (session.run)', 'result write (JSON, durable)', 'queue (BullMQ, run counters)']) {
      expect(text).toMatch(new RegExp(`^${label.replace(/[()+.]/g, '\\$&')}\\s+[\\d.]+`, 'm'));
    }
    expect(text).toMatch(/^CPU limit on \d+ cores: [\d.]+ images\/s over every stage/m);
    expect(text).toMatch(/^in-process: [\d.]+ images\/s = [\d.]+ × its CPU limit; core ms\/image/m);
    expect(text).toMatch(/^pipeline: [\d.]+ images\/s = [\d.]+ × the CPU limit; core ms\/image/m);
    const whats = report.sets![0].targets.map((t) => t.what);
    expect(whats).toEqual(expect.arrayContaining(['CPU per image / plain loop, worst stage', 'in-process / CPU limit']));
    expect(whats.some((w) => w.startsWith('pipeline / plain loop'))).toBe(true);
    // The top level carries the first set's CPU view and targets, for --json readers.
    expect(report.cpu).toEqual(cpu);
    expect(report.targets.map((t) => t.what)).toEqual(expect.arrayContaining(whats));
  });
});
