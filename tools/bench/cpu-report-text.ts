import { CPU_STAGES, CpuGap, STAGE_LABELS, StageCpu, describeBusy } from './cpu-limit';
import type { CpuReport } from './cpu-report';
import type { PhaseResult } from './phase-result';
import { fmt, table } from './text-table';

/**
 * The CPU view of one set as text: CPU ms per image by stage (stage profile, its wall time, the plain
 * loops, the profile over the TypeScript loop), the CPU limit over every stage and over the
 * in-process ones, and for in-process and the pipeline their images/s as a share of that limit with
 * their core time per image split into stages, wasted CPU, other processes and idle cores.
 */
export function formatCpuReport(cpu: CpuReport, inProcess: PhaseResult | null, pipeline: PhaseResult | null): string[] {
  const out: string[] = [];
  const profile = cpu.stageProfile;
  const ts = cpu.plainLoop;
  const py = cpu.plainLoopPython;
  const ratioOf = new Map(cpu.stageRatios.map((r) => [r.stage, r]));
  const rows: string[][] = [['CPU ms/image by stage', 'stage profile', 'wall', ...(ts ? ['plain loop TS'] : []), ...(py ? ['plain loop Python'] : []), ...(ts && profile ? ['profile / TS'] : [])]];
  for (const stage of CPU_STAGES) {
    const p = profile?.cpuMs[stage];
    const t = ts?.stageCpuMs[stage];
    const y = py?.stageCpuMs[stage];
    if (p === undefined && t === undefined && y === undefined) continue;
    const r = ratioOf.get(stage);
    rows.push([STAGE_LABELS[stage], fmt(p), fmt(profile?.wallMs[stage]), ...(ts ? [fmt(t)] : []), ...(py ? [fmt(y)] : []), ...(ts && profile ? [r ? `${r.ratio.toFixed(2)}${r.judged ? '' : ' (small)'}` : '-'] : [])]);
  }
  rows.push(['sum', fmt(profile?.sumMs), '', ...(ts ? [fmt(sum(ts.stageCpuMs))] : []), ...(py ? [fmt(sum(py.stageCpuMs))] : []), ...(ts && profile ? [cpu.ratios.stagesVsPlainLoop === null ? '-' : `${cpu.ratios.stagesVsPlainLoop.toFixed(2)} (shared stages)`] : [])]);
  out.push(...table(rows));
  if (profile) {
    const q = profile.queue;
    const queue = q ? `; queue: ${q.jobs} jobs with no work, worker side ${fmt(q.workerCpuMs)} + redis-server ${fmt(q.redisCpuMs)} ms/image` : '; no queue stage (no Redis)';
    out.push(`  stage profile: ${profile.images} images, batch ${profile.batch}, ${profile.viewsPerImage.toFixed(2)} canvases per image, other load ${profile.contention === null ? '-' : `${Math.round(profile.contention * 100)}%`}${queue}`);
  }
  const gcs = [gcText('stage profile', profile?.gcMs), gcText('plain loop TS', ts?.stageGcMs)].filter((g) => g !== null);
  if (gcs.length) out.push(`  V8 garbage-collection pauses inside the stages (wall ms/image, part of their CPU): ${gcs.join('; ')}`);
  if (cpu.plainLoopPython?.versions) out.push(`  plain loop Python: ${Object.entries(cpu.plainLoopPython.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (cpu.cpuLimit.all !== null) {
    out.push(`CPU limit on ${cpu.cores} cores: ${fmt(cpu.cpuLimit.all)} images/s over every stage (${fmt(cpu.stageSumMs.all)} ms), ${fmt(cpu.cpuLimit.inProcess)} images/s over the in-process stages (${fmt(cpu.stageSumMs.inProcess)} ms)`);
  }
  const d = cpu.decodeCost;
  if (d) {
    const tiles = d.cpuMs.canvasTiles === null ? '' : `, with its tiles ${fmt(d.cpuMs.canvasTiles)}`;
    out.push(`decode, one JPEG at a time (${d.photos} photos × ${d.passes}), CPU ms: every pixel ${fmt(d.cpuMs.full)}, at 1/4 scale ${fmt(d.cpuMs.quarter)}, to the ${d.canvas} canvas ${fmt(d.cpuMs.canvas)}${tiles}; canvas / 1/4 scale ${fmt(d.canvasVsQuarter)}${d.judged ? '' : ' (not judged: photos under 4 × the canvas)'}`);
  }
  const busy = cpu.inProcessBusy ? `; busy: ${describeBusy(cpu.inProcessBusy)} of wall` : '';
  if (inProcess && cpu.gaps.inProcess) out.push(`in-process: ${fmt(inProcess.imagesPerSecond)} images/s = ${fmt(cpu.ratios.inProcessVsCpuLimit)} × its CPU limit; ${gapText(cpu.gaps.inProcess)}${busy}`);
  const pipelineBusy = cpu.pipelineBusy ? `; busy (per worker): ${describeBusy(cpu.pipelineBusy)} of wall` : '';
  if (pipeline && cpu.gaps.pipeline) out.push(`pipeline: ${fmt(pipeline.imagesPerSecond)} images/s = ${fmt(cpu.ratios.pipelineVsCpuLimit)} × the CPU limit; ${gapText(cpu.gaps.pipeline)}${pipelineBusy}`);
  return out;
}

/** `core ms/image 32.5 = stages 23.4 + wasted CPU 3.10 + other processes 1.00 + idle cores 5.00`. */
export function gapText(g: CpuGap): string {
  return `core ms/image ${fmt(g.coreMs)} = stages ${fmt(g.stagesMs)} + wasted CPU ${fmt(g.wastedMs)} + other processes ${fmt(g.otherMs)} + idle cores ${fmt(g.idleMs)}`;
}

/** `stage profile 12.3 (decode 5.10, pack 4.00)`: the total and the two stages with the most; `null` without figures. */
function gcText(label: string, gc: StageCpu | undefined): string | null {
  if (!gc) return null;
  const top = Object.entries(gc).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)).slice(0, 2).filter(([, ms]) => (ms ?? 0) > 0);
  return `${label} ${fmt(sum(gc))}${top.length ? ` (${top.map(([stage, ms]) => `${stage} ${fmt(ms)}`).join(', ')})` : ''}`;
}

function sum(stages: Partial<Record<string, number>>): number {
  return Object.values(stages).reduce<number>((a, b) => a + (b ?? 0), 0);
}
