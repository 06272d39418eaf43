import fs from 'node:fs/promises';
import path from 'node:path';
import type { DecodeOptions } from '../../src/detectors/detector';
import type { LoadedModel } from '../../src/engine/build-engine';
import type { BenchImageSet } from './bench-images';
import { BenchOptions, effectiveConcurrency } from './bench-options';
import { CpuReport, CpuTargetCheck, PIPELINE_VS_IN_PROCESS, buildCpuReport, cpuTargets, pipelineVsInProcessCause } from './cpu-report';
import type { PhaseResult, PlainLoopResult } from './phase-result';
import { measurePlainLoop } from './plain-loop';
import { PythonCheck, checkPython, measurePythonPlainLoop } from './plain-loop-python';
import type { ProgressSink } from './progress';
import { StageProfile, measureStageProfile } from './stage-profile';
import { DecodeCost, measureDecodeCost } from './decode-cost';
import { usableCores } from '../../src/host/cpu-quota';

/** What the CPU measurements need of the benchmark run. */
export interface CpuPhaseContext {
  options: Readonly<BenchOptions>;
  model: LoadedModel;
  decode: DecodeOptions;
  workDir: string;
  /** The private Redis, for the queue stage; without it the profile has none. */
  redisUrl?: string;
  progress: ProgressSink;
}

/** One photo set as the CPU measurements see it. */
export interface CpuPhaseSet {
  name: string;
  set: BenchImageSet;
  /** The set's `count` images laid out for the queue (the queue stage's sources name this folder). */
  sourceDir: string;
}

interface Rounds {
  profile: StageProfile[];
  plain: PlainLoopResult[];
  python: Array<PlainLoopResult & { versions: Record<string, string> }>;
  decode: DecodeCost[];
}

/**
 * The CPU measurements of `facefleet bench` (`--phases stages,plain-loop`): per set and round, the
 * stage profile (each stage alone, CPU per image) and the plain-loop baselines (TypeScript, and Python
 * when `python3` can import Pillow, onnxruntime and numpy); per set, the CPU report built from their
 * median rounds and the set's in-process and pipeline results, with its targets.
 */
export class CpuPhases {
  private readonly rounds = new Map<string, Rounds>();
  private python: PythonCheck | undefined;

  constructor(private readonly ctx: CpuPhaseContext) {}

  /** Whether any CPU measurement was asked for. */
  get wanted(): boolean {
    return this.ctx.options.phases.has('stages') || this.ctx.options.phases.has('plain-loop');
  }

  /** Takes one round of the CPU measurements asked for on `s`. */
  async round(s: CpuPhaseSet, tag: string): Promise<void> {
    const { options, model, progress } = this.ctx;
    const mine = this.roundsOf(s.name);
    const run = async <T>(label: string, dir: string, measure: (dir: string) => Promise<T>, summary: (r: T) => string): Promise<T> => {
      progress.phase(`${s.name}: ${label}${tag}`);
      const folder = await fs.mkdtemp(path.join(this.ctx.workDir, `${dir}-`));
      try {
        const r = await measure(folder);
        progress.end(summary(r));
        return r;
      } finally {
        await fs.rm(folder, { recursive: true, force: true });
      }
    };
    const common = { decode: this.ctx.decode, limits: options.limits, tiling: model.engine.tiling, count: options.count };
    if (options.phases.has('stages')) {
      const batch = model.detector.dynamicBatch ? options.model.batch : 1;
      const queue = this.ctx.redisUrl ? { redisUrl: this.ctx.redisUrl, engine: model.engine, concurrency: effectiveConcurrency(options, options.model.batch), sourceDir: s.sourceDir } : undefined;
      mine.profile.push(await run(`stage profile, each stage alone, batch ${batch}`, 'stage-profile', (dir) => measureStageProfile(model.detector, model.session, s.set, { ...common, batch, resultsDir: dir, queue }, progress), (p) => `${p.sumMs.toFixed(2)} CPU ms per image over every stage`));
      const cost = await run('decode: every pixel, 1/4 scale, the canvas', 'decode-cost', () => measureDecodeCost(s.set, { input: model.detector.input, limits: options.limits, tiling: model.engine.tiling }, progress), (d) => (d ? `canvas / 1/4 scale ${d.canvasVsQuarter}` : 'no JPEG in the set'));
      if (cost) mine.decode.push(cost);
    }
    if (options.phases.has('plain-loop')) {
      mine.plain.push(await run('plain loop (TypeScript)', 'plain-loop', (dir) => measurePlainLoop(s.set, { ...common, modelPath: model.modelPath, detector: model.detector, resultsDir: dir }, progress), (p) => `${p.imagesPerSecond} images/s, ${p.cpuMsPerImage} CPU ms per image`));
      this.python ??= checkPython();
      if (this.python.available) {
        mine.python.push(await run('plain loop (Python)', 'plain-loop-py', (dir) => measurePythonPlainLoop(s.set, { ...common, modelPath: model.modelPath, detector: model.detector, workDir: dir }), (p) => `${p.imagesPerSecond} images/s, ${p.cpuMsPerImage} CPU ms per image`));
      }
    }
  }

  /**
   * The CPU report of set `name` from the median rounds and the set's in-process and pipeline
   * results, and `targets` with the CPU targets appended and the existing pipeline / in-process target
   * told what holds it back when missed. `cpu` is `null` when no CPU measurement was asked for.
   */
  report<T extends { what: string; met: boolean | null; heldBackBy?: string }>(name: string, inProcess: PhaseResult | null, pipeline: PhaseResult | null, targets: T[]): { cpu: CpuReport | null; targets: Array<T | CpuTargetCheck> } {
    if (!this.wanted) return { cpu: null, targets };
    const mine = this.roundsOf(name);
    const python = this.python;
    const cpu = buildCpuReport({
      cores: usableCores(),
      stageProfile: medianBy(mine.profile, (p) => p.sumMs),
      plainLoop: medianBy(mine.plain, (p) => p.imagesPerSecond),
      plainLoopPython: medianBy(mine.python, (p) => p.imagesPerSecond),
      plainLoopPythonSkipped: python && !python.available ? python.reason : null,
      inProcess,
      pipeline,
      decodeCost: medianBy(mine.decode, (d) => d.canvasVsQuarter),
    });
    const cause = pipelineVsInProcessCause(cpu);
    const told = targets.map((t) => (t.what.startsWith(PIPELINE_VS_IN_PROCESS) && t.met === false && cause ? { ...t, heldBackBy: cause } : t));
    return { cpu, targets: [...told, ...cpuTargets(cpu)] };
  }

  private roundsOf(name: string): Rounds {
    let r = this.rounds.get(name);
    if (!r) this.rounds.set(name, (r = { profile: [], plain: [], python: [], decode: [] }));
    return r;
  }
}

/** The round with the median of `key` (the lower middle for an even count); `null` for none. */
function medianBy<T>(list: readonly T[], key: (t: T) => number): T | null {
  return list.length ? [...list].sort((a, b) => key(a) - key(b))[Math.floor((list.length - 1) / 2)] : null;
}
