import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fitLetterbox } from '../../src/imaging/letterbox';
import { probeImage } from '../../src/imaging/probe-image';
import { planTiles } from '../../src/imaging/tile-plan';
import { findRepoRoot } from '../../src/models/registry';
import type { BenchImageSet } from './bench-images';
import type { StageCpu } from './cpu-limit';
import { PlainLoopResult, rate } from './phase-result';
import type { PlainLoopOptions } from './plain-loop';

/** What the Python plain loop is, as the report names it. */
export const PLAIN_LOOP_PYTHON = 'Python: Pillow draft, onnxruntime 1 thread, batch 1';

/** The Python modules the loop imports. */
const MODULES = ['PIL', 'onnxruntime', 'numpy'] as const;

/** Whether `python` can run the plain loop: its version and the modules' versions, or why not. */
export type PythonCheck = { available: true; versions: Record<string, string> } | { available: false; reason: string };

/**
 * Asks `python` (`python3` on the PATH by default) to import Pillow, onnxruntime and numpy. Never
 * throws: a missing interpreter or module is a reason in the answer.
 */
export function checkPython(python = 'python3'): PythonCheck {
  const code = `import json, sys\nmissing = []\nversions = {"python": sys.version.split()[0]}\nfor m in ${JSON.stringify(MODULES)}:\n    try:\n        versions[m] = __import__(m).__version__\n    except Exception:\n        missing.append(m)\nprint(json.dumps({"missing": missing, "versions": versions}))\n`;
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { available: false, reason: `${python} cannot be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})` };
  try {
    const { missing, versions } = JSON.parse(r.stdout) as { missing: string[]; versions: Record<string, string> };
    if (missing.length) return { available: false, reason: `${python} cannot import ${missing.join(', ')} (pip install pillow onnxruntime numpy)` };
    return { available: true, versions };
  } catch {
    return { available: false, reason: `${python} failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`}` };
  }
}

/** Settings of {@link measurePythonPlainLoop}: those of the TypeScript loop, with a work folder for its results. */
export interface PythonPlainLoopOptions extends Omit<PlainLoopOptions, 'resultsDir'> {
  /** Interpreter. @defaultValue `python3` */
  python?: string;
  /** An empty folder for the job file and the results. */
  workDir: string;
}

/** What `plain_loop.py` prints. */
interface PythonReport {
  images: number;
  seconds: number;
  cpuMsPerImage: number;
  machineBusyMs: number | null;
  cpuMs: number;
  stageCpuMs: StageCpu;
  stageWallMs: StageCpu;
  versions: Record<string, string>;
}

/**
 * Runs `tools/bench/plain_loop.py`: the same photos, model file, canvases and tiles as the worker
 * (each photo's letterbox and tile plan computed here by the worker's own code and handed over), in
 * a Python process with Pillow's `draft()` decode and onnxruntime with one intra-op thread. Rejects
 * when the script fails; check {@link checkPython} first.
 */
export async function measurePythonPlainLoop(set: BenchImageSet, options: PythonPlainLoopOptions): Promise<PlainLoopResult & { versions: Record<string, string> }> {
  const { detector } = options;
  const { input } = detector;
  const photos = [];
  for (const img of set.images) {
    const probe = await probeImage(await fs.readFile(img.file), options.limits);
    const plan = options.tiling && input.width === input.height ? planTiles(probe.width, probe.height, input.width, options.tiling) : undefined;
    const fit = fitLetterbox(probe.width, probe.height, input.width, input.height);
    photos.push({ file: img.file, format: probe.format, width: probe.width, height: probe.height, orientation: probe.orientation, fit, plan: plan && plan.tiles.length > 0 ? plan : null });
  }
  const resultsDir = path.join(options.workDir, 'results');
  const jobFile = path.join(options.workDir, 'job.json');
  await fs.mkdir(options.workDir, { recursive: true });
  await fs.writeFile(jobFile, JSON.stringify({ model: { id: detector.id, version: detector.version }, modelPath: options.modelPath, input, decode: options.decode, photos, count: options.count, resultsDir }));
  const script = path.join(findRepoRoot(), 'tools', 'bench', 'plain_loop.py');
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(options.python ?? 'python3', [script, jobFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`plain_loop.py exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`))));
  });
  const r = JSON.parse(out) as PythonReport;
  const wallMs = r.seconds * 1000;
  const contention = r.machineBusyMs === null || wallMs <= 0 ? null : Math.round(Math.min(1, Math.max(0, (r.machineBusyMs - r.cpuMs) / (wallMs * os.cpus().length))) * 100) / 100;
  const round3 = (s: StageCpu) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round((v ?? 0) * 1000) / 1000])) as StageCpu;
  return {
    runtime: PLAIN_LOOP_PYTHON,
    imagesPerSecond: rate(r.images, wallMs),
    images: r.images,
    seconds: r.seconds,
    stages: {},
    averageBatchSize: 1,
    failed: 0,
    cpuMsPerImage: Math.round(r.cpuMsPerImage * 100) / 100,
    contention,
    stageCpuMs: round3(r.stageCpuMs),
    stageWallMs: round3(r.stageWallMs),
    versions: r.versions,
  };
}
