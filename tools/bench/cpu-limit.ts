/**
 * The stages of the work on one image, in the order the pipeline runs them: `read` (the source
 * file), `probe` (its header), `decode` (sharp: decode and resize onto the canvas, tiles included),
 * `pack` (the input tensor), `inference` (`session.run` at the batch size in use), `outputs` (anchors,
 * NMS, tile merge), `write` (result JSON and the durable write), `queue` (BullMQ and the run counters,
 * redis-server included).
 */
export const CPU_STAGES = ['read', 'probe', 'decode', 'pack', 'inference', 'outputs', 'write', 'queue'] as const;

/** One stage of {@link CPU_STAGES}. */
export type CpuStage = (typeof CPU_STAGES)[number];

/** The stages the in-process measurement runs: everything but the result write and the queue. */
export const IN_PROCESS_STAGES: readonly CpuStage[] = ['read', 'probe', 'decode', 'pack', 'inference', 'outputs'];

/** What each stage covers, as the report prints it. */
export const STAGE_LABELS: Readonly<Record<CpuStage, string>> = {
  read: 'read (file read)',
  probe: 'probe (header)',
  decode: 'decode + resize (sharp, tiles)',
  pack: 'pack (tensor)',
  inference: 'inference (session.run)',
  outputs: 'outputs (anchors, NMS, merge)',
  write: 'result write (JSON, durable)',
  queue: 'queue (BullMQ, run counters)',
};

/** CPU time per image by stage, ms; a stage the measurement does not run is absent. */
export type StageCpu = Partial<Record<CpuStage, number>>;

/** Sum of the stages' CPU ms per image, over `only` when given (absent stages count 0). */
export function stageSum(stages: StageCpu, only: readonly CpuStage[] = CPU_STAGES): number {
  return only.reduce((sum, s) => sum + (stages[s] ?? 0), 0);
}

/**
 * The CPU limit: images/s if every one of `cores` did nothing but the stages' work, `cores ÷ sumMs ×
 * 1000`. `null` for a sum that is not positive.
 */
export function cpuLimit(cores: number, sumMs: number): number | null {
  return sumMs > 0 && cores > 0 ? (cores * 1000) / sumMs : null;
}

/** What a throughput measurement is judged on: how many images in how long, at what CPU cost. */
export interface MeasuredRun {
  images: number;
  /** Wall time, s. */
  seconds: number;
  /** CPU ms per image of the processes doing the work. */
  cpuMsPerImage: number | null;
  /** Share (0–1) of the machine's CPU other processes used meanwhile; `null`: unknown, taken as 0. */
  contention: number | null;
}

/**
 * Where the core time of a measurement went, per image: `coreMs = stagesMs + wastedMs + otherMs +
 * idleMs` exactly. Its images/s over the CPU limit of the same stages is `stagesMs / coreMs`.
 */
export interface CpuGap {
  /** Core time per image the measurement had: cores × wall ÷ images, ms. */
  coreMs: number;
  /** CPU per image of the stages run one by one (the stage profile), ms. */
  stagesMs: number;
  /** CPU used per image beyond the stage sum (negative: less than the stages alone cost), ms. */
  wastedMs: number;
  /** Core time per image other processes used, ms. */
  otherMs: number;
  /** Core time per image nothing used: cores waiting, ms. */
  idleMs: number;
  /** images/s ÷ the CPU limit of the same stages (`stagesMs / coreMs`). */
  ofLimit: number;
}

/**
 * Splits the core time of `run` on `cores` against `stagesMs`, the CPU per image its stages cost one
 * by one: own CPU beyond the stages (`wastedMs`), other processes' share (`otherMs`, from the
 * measured contention, capped at what was not own CPU), and the rest, idle. `null` without images, wall
 * time or a CPU reading.
 */
export function cpuGap(run: MeasuredRun, cores: number, stagesMs: number): CpuGap | null {
  if (run.images <= 0 || run.seconds <= 0 || run.cpuMsPerImage === null || cores <= 0 || stagesMs <= 0) return null;
  const coreMs = (cores * run.seconds * 1000) / run.images;
  const cpuMs = run.cpuMsPerImage;
  const otherMs = Math.max(0, Math.min((run.contention ?? 0) * coreMs, coreMs - cpuMs));
  return { coreMs, stagesMs, wastedMs: cpuMs - stagesMs, otherMs, idleMs: coreMs - cpuMs - otherMs, ofLimit: stagesMs / coreMs };
}

/** How busy each resource of a measurement was, as a share (0–1) of its wall time. */
export interface ResourceBusy {
  /** The inference thread inside `session.run`. */
  inferenceThread: number | null;
  /** The decode slots together (the share of slots × wall a decode held one). */
  decodeSlots: number | null;
  /** The main thread (its event loop utilisation). */
  mainThread: number | null;
}

/** Names of the resources of {@link ResourceBusy}, as the report prints them. */
const RESOURCE_NAMES: Record<keyof ResourceBusy, string> = { inferenceThread: 'inference thread', decodeSlots: 'decode slots', mainThread: 'main thread' };

/** Above this share of wall time a resource counts as the one holding the measurement back. */
export const SATURATED = 0.9;

/** The busiest resource, e.g. `{ name: 'inference thread', share: 0.97 }`; `null` when none was measured. */
export function busiest(busy: ResourceBusy): { name: string; share: number } | null {
  let best: { name: string; share: number } | null = null;
  for (const key of Object.keys(RESOURCE_NAMES) as Array<keyof ResourceBusy>) {
    const share = busy[key];
    if (share !== null && (best === null || share > best.share)) best = { name: RESOURCE_NAMES[key], share };
  }
  return best;
}

/** `inference thread 62%, decode slots 40%, main thread 18%` (the resources measured). */
export function describeBusy(busy: ResourceBusy): string {
  return (Object.keys(RESOURCE_NAMES) as Array<keyof ResourceBusy>)
    .filter((k) => busy[k] !== null)
    .map((k) => `${RESOURCE_NAMES[k]} ${Math.round((busy[k] ?? 0) * 100)}%`)
    .join(', ');
}

/** Core ms per image by what used them: the stages by name, then `wasted CPU`, `other processes`, `idle cores`. */
export type CostTerms = Record<string, number>;

/** The terms of a gap: each stage's CPU (`stages`, over `only`), then the three non-stage parts. */
export function gapTerms(gap: CpuGap, stages: StageCpu, only: readonly CpuStage[] = CPU_STAGES): CostTerms {
  const terms: CostTerms = {};
  for (const s of only) if (stages[s] !== undefined) terms[s] = stages[s];
  terms['wasted CPU'] = gap.wastedMs;
  terms['other processes'] = gap.otherMs;
  terms['idle cores'] = gap.idleMs;
  return terms;
}

/**
 * What costs `a` the most core time per image beyond `b`: the term with the largest positive `a − b`
 * (a term absent from `b` counts whole). `null` when `a` exceeds `b` nowhere.
 */
export function heldBackBy(a: CostTerms, b: CostTerms): { term: string; ms: number } | null {
  let best: { term: string; ms: number } | null = null;
  for (const [term, ms] of Object.entries(a)) {
    const extra = ms - (b[term] ?? 0);
    if (extra > 0 && (best === null || extra > best.ms)) best = { term, ms: extra };
  }
  return best;
}

/** One stage compared with the plain loop: CPU ms per image on each side and their ratio. */
export interface StageRatio {
  stage: CpuStage;
  productMs: number;
  plainMs: number;
  /** `productMs / plainMs`. */
  ratio: number;
  /** Whether the stage is large enough to be judged (at least {@link JUDGED_SHARE} of the plain loop's sum). */
  judged: boolean;
}

/**
 * Stages below this share of the plain loop's stage sum are listed but not judged: a 0.05 ms header
 * probe that costs 0.07 ms is 1.4× and nothing a user would notice.
 */
export const JUDGED_SHARE = 0.02;

/** Per stage both sides ran, the product's CPU per image over the plain loop's. */
export function stageRatios(product: StageCpu, plain: StageCpu): StageRatio[] {
  const plainSum = stageSum(plain);
  const out: StageRatio[] = [];
  for (const stage of CPU_STAGES) {
    const p = product[stage];
    const q = plain[stage];
    if (p === undefined || q === undefined || q <= 0) continue;
    out.push({ stage, productMs: p, plainMs: q, ratio: p / q, judged: q >= JUDGED_SHARE * plainSum });
  }
  return out;
}

/** The judged stage with the highest ratio; `null` when none is judged. */
export function worstStage(ratios: readonly StageRatio[]): StageRatio | null {
  let worst: StageRatio | null = null;
  for (const r of ratios) if (r.judged && (worst === null || r.ratio > worst.ratio)) worst = r;
  return worst;
}
