import {
  CPU_STAGES,
  CostTerms,
  CpuGap,
  IN_PROCESS_STAGES,
  MeasuredRun,
  ResourceBusy,
  STAGE_LABELS,
  SATURATED,
  StageRatio,
  busiest,
  cpuGap,
  cpuLimit,
  describeBusy,
  gapTerms,
  heldBackBy,
  stageRatios,
  stageSum,
  worstStage,
} from './cpu-limit';
import type { PhaseResult, PlainLoopResult } from './phase-result';
import type { StageProfile } from './stage-profile';
import { ratio } from './stats';
import type { DecodeCost } from './decode-cost';

/** A target of the performance work and whether this run met it (the shape of the report's target checks). */
export interface CpuTargetCheck {
  what: string;
  target: number;
  /** `atLeast`: measured ≥ target; `atMost`: measured ≤ target. */
  comparison: 'atLeast' | 'atMost';
  measured: number | null;
  met: boolean | null;
  /** When missed: what holds the measurement back, e.g. `decode + resize (sharp, tiles) (1.31×)`. */
  heldBackBy?: string;
}

/** The stage-by-stage CPU target: the product's CPU per image within this factor of the plain loop's. */
export const STAGE_VS_PLAIN_TARGET = 1.1;
/** A JPEG decoded to the canvas costs at most this × its decode at 1/4 scale (shrink-on-load does its work). */
export const DECODE_VS_QUARTER_TARGET = 1.2;

/** The pipeline against the one-core plain loop: this share of perfect scaling over the cores (1.8 on 2 cores). */
export const PIPELINE_VS_PLAIN_PER_CORE = 0.9;
/** In-process images/s against the CPU limit of its stages. */
export const IN_PROCESS_VS_LIMIT_TARGET = 0.9;
/** The existing target the CPU view explains when it is missed. */
export const PIPELINE_VS_IN_PROCESS = 'pipeline / in-process';

/** The CPU view of one photo set: what each stage costs, the CPU limit, and where each measurement's gap sits. */
export interface CpuReport {
  /** Cores the limit counts (`usableCores()`: CPU affinity and the container's CPU limit). */
  cores: number;
  stageProfile: StageProfile | null;
  /** The plain-loop baseline in TypeScript. */
  plainLoop: PlainLoopResult | null;
  /** The same loop in Python (Pillow, onnxruntime), when `python3` can import them. */
  plainLoopPython: (PlainLoopResult & { versions?: Record<string, string> }) | null;
  /** Why the Python loop did not run; `null` when it ran or was not asked for. */
  plainLoopPythonSkipped: string | null;
  /** images/s if every core did only the stages' work: every stage (the pipeline's work), and the in-process ones. */
  cpuLimit: { all: number | null; inProcess: number | null };
  /** Sums of the stage profile's CPU ms per image over the same two stage lists. */
  stageSumMs: { all: number | null; inProcess: number | null };
  ratios: {
    inProcessVsCpuLimit: number | null;
    pipelineVsCpuLimit: number | null;
    pipelineVsPlainLoop: number | null;
    /** The stage profile's stage sum over the TypeScript plain loop's, stages both run. */
    stagesVsPlainLoop: number | null;
  };
  /** The stage profile against the TypeScript plain loop, stage by stage. */
  stageRatios: StageRatio[];
  /** Where the core time of each measurement went, against the stage profile. */
  gaps: { inProcess: CpuGap | null; pipeline: CpuGap | null };
  /** How busy the in-process measurement's resources were. */
  inProcessBusy: ResourceBusy | null;
  /** How busy the pipeline workers' resources were (their busy-time metrics). */
  pipelineBusy: ResourceBusy | null;
  /** CPU per JPEG decode: every pixel, 1/4 scale, the canvas (`--phases stages`); `null` without JPEGs. */
  decodeCost: DecodeCost | null;
}

/** What {@link buildCpuReport} works from: the measurements of one set (median rounds). */
export interface CpuInputs {
  cores: number;
  stageProfile: StageProfile | null;
  plainLoop: PlainLoopResult | null;
  plainLoopPython: CpuReport['plainLoopPython'];
  plainLoopPythonSkipped: string | null;
  inProcess: (PhaseResult & { busy?: ResourceBusy }) | null;
  pipeline: (PhaseResult & { busy?: ResourceBusy | null }) | null;
  decodeCost?: DecodeCost | null;
}

/** The CPU view of one set; see {@link CpuReport}. */
export function buildCpuReport(m: CpuInputs): CpuReport {
  const profile = m.stageProfile?.cpuMs ?? null;
  const all = profile ? stageSum(profile) : null;
  const inProc = profile ? stageSum(profile, IN_PROCESS_STAGES) : null;
  const limitAll = all === null ? null : cpuLimit(m.cores, all);
  const limitIn = inProc === null ? null : cpuLimit(m.cores, inProc);
  const gapOf = (p: PhaseResult | null, sum: number | null) => (p && sum !== null ? cpuGap(asRun(p), m.cores, sum) : null);
  const ratios = profile && m.plainLoop ? stageRatios(profile, m.plainLoop.stageCpuMs) : [];
  const shared = ratios.map((r) => r.stage);
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  return {
    cores: m.cores,
    stageProfile: m.stageProfile,
    plainLoop: m.plainLoop,
    plainLoopPython: m.plainLoopPython,
    plainLoopPythonSkipped: m.plainLoopPythonSkipped,
    cpuLimit: { all: round(limitAll), inProcess: round(limitIn) },
    stageSumMs: { all: round(all), inProcess: round(inProc) },
    ratios: {
      inProcessVsCpuLimit: ratio(m.inProcess?.imagesPerSecond, limitIn),
      pipelineVsCpuLimit: ratio(m.pipeline?.imagesPerSecond, limitAll),
      pipelineVsPlainLoop: ratio(m.pipeline?.imagesPerSecond, m.plainLoop?.imagesPerSecond),
      stagesVsPlainLoop: profile && m.plainLoop && shared.length ? ratio(stageSum(profile, shared), stageSum(m.plainLoop.stageCpuMs, shared)) : null,
    },
    stageRatios: ratios,
    gaps: { inProcess: gapOf(m.inProcess, inProc), pipeline: gapOf(m.pipeline, all) },
    inProcessBusy: m.inProcess?.busy ?? null,
    pipelineBusy: m.pipeline?.busy ?? null,
    decodeCost: m.decodeCost ?? null,
  };
}

/**
 * The targets the CPU view judges, in order: CPU per image stage by stage against the plain loop
 * (the worst judged stage within {@link STAGE_VS_PLAIN_TARGET}×), the pipeline against the plain loop
 * ({@link PIPELINE_VS_PLAIN_PER_CORE} × cores), in-process against its CPU limit
 * ({@link IN_PROCESS_VS_LIMIT_TARGET}). Each missed one says what holds it back.
 */
export function cpuTargets(r: CpuReport): CpuTargetCheck[] {
  const worst = worstStage(r.stageRatios);
  const perCore = Math.round(PIPELINE_VS_PLAIN_PER_CORE * r.cores * 100) / 100;
  const targets: CpuTargetCheck[] = [
    judge('CPU per image / plain loop, worst stage', STAGE_VS_PLAIN_TARGET, 'atMost', worst === null ? null : Math.round(worst.ratio * 1000) / 1000, worst ? `${STAGE_LABELS[worst.stage]} (${worst.productMs.toFixed(2)} vs ${worst.plainMs.toFixed(2)} ms)` : undefined),
    judge(`pipeline / plain loop (${PIPELINE_VS_PLAIN_PER_CORE} × ${r.cores} cores)`, perCore, 'atLeast', r.ratios.pipelineVsPlainLoop, pipelineVsPlainCause(r)),
    judge('in-process / CPU limit', IN_PROCESS_VS_LIMIT_TARGET, 'atLeast', r.ratios.inProcessVsCpuLimit, inProcessCause(r)),
  ];
  // Judged on photos a 1/4-scale decode still covers the canvas with (the camera set).
  const d = r.decodeCost;
  if (d?.judged) targets.push(judge(`decode to the ${d.canvas} canvas / decode at 1/4 scale`, DECODE_VS_QUARTER_TARGET, 'atMost', d.canvasVsQuarter, `the canvas decode (${d.cpuMs.canvas.toFixed(1)} vs ${d.cpuMs.quarter.toFixed(1)} CPU ms)`));
  return targets;
}

/** What holds the pipeline back against in-process, for the existing `pipeline / in-process` target. */
export function pipelineVsInProcessCause(r: CpuReport): string | undefined {
  const p = pipelineTerms(r);
  const i = inProcessTerms(r);
  if (!p || !i) return undefined;
  return describeTerm(heldBackBy(p, i), r, 'in-process', r.pipelineBusy, 'pipeline');
}

function pipelineVsPlainCause(r: CpuReport): string | undefined {
  const p = pipelineTerms(r);
  if (!p || !r.plainLoop) return undefined;
  const plain: CostTerms = { ...r.plainLoop.stageCpuMs };
  if (r.plainLoop.cpuMsPerImage !== null) plain['wasted CPU'] = r.plainLoop.cpuMsPerImage - stageSum(r.plainLoop.stageCpuMs);
  return describeTerm(heldBackBy(p, plain), r, 'the plain loop', r.pipelineBusy, 'pipeline');
}

function inProcessCause(r: CpuReport): string | undefined {
  const gap = r.gaps.inProcess;
  if (!gap) return undefined;
  return describeTerm(heldBackBy({ 'wasted CPU': gap.wastedMs, 'other processes': gap.otherMs, 'idle cores': gap.idleMs }, {}), r, 'the stages', r.inProcessBusy, 'in-process');
}

function pipelineTerms(r: CpuReport): CostTerms | null {
  return r.gaps.pipeline && r.stageProfile ? gapTerms(r.gaps.pipeline, r.stageProfile.cpuMs, CPU_STAGES) : null;
}

function inProcessTerms(r: CpuReport): CostTerms | null {
  return r.gaps.inProcess && r.stageProfile ? gapTerms(r.gaps.inProcess, r.stageProfile.cpuMs, IN_PROCESS_STAGES) : null;
}

/**
 * `idle cores (+4.1 ms/image over in-process; pipeline inference thread busy 97%)`: idle cores are
 * explained by the busy shares of the measurement judged (`who`), else of in-process.
 */
function describeTerm(t: { term: string; ms: number } | null, r: CpuReport, against: string, busy: ResourceBusy | null, who: string): string | undefined {
  if (!t) return undefined;
  const label = (CPU_STAGES as readonly string[]).includes(t.term) ? STAGE_LABELS[t.term as keyof typeof STAGE_LABELS] : t.term;
  let text = `${label} (+${t.ms.toFixed(2)} ms/image over ${against}`;
  const [shares, name] = busy ? [busy, who] : [r.inProcessBusy, 'in-process'];
  if (t.term === 'idle cores' && shares) {
    const top = busiest(shares);
    text += top && top.share >= SATURATED ? `; ${name} ${top.name} busy ${Math.round(top.share * 100)}%` : `; ${name} busy: ${describeBusy(shares)}`;
  }
  return `${text})`;
}

function judge(what: string, target: number, comparison: 'atLeast' | 'atMost', measured: number | null, cause?: string): CpuTargetCheck {
  const met = measured === null ? null : comparison === 'atLeast' ? measured >= target : measured <= target;
  return { what, target, comparison, measured, met, ...(met === false && cause ? { heldBackBy: cause } : {}) };
}

function asRun(p: PhaseResult): MeasuredRun {
  return { images: p.images, seconds: p.seconds, cpuMsPerImage: p.cpuMsPerImage, contention: p.contention };
}
