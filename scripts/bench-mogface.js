#!/usr/bin/env node
/**
 * `npm run bench:mogface`: exports MogFace with random weights (once, into the model cache) and runs
 * `facefleet bench` on it at batch 1, 4 and 8 — ceiling, in-process and one pipeline worker — then
 * prints ms/image per batch size and the worker's peak RSS. Random weights detect nothing, but they
 * cost exactly what the trained network costs, which is all a benchmark needs.
 *
 *   npm run bench:mogface                              # full (ResNet-101), canvas 320, 8 images
 *   npm run bench:mogface -- --variant tiny --canvas 640 --count 32
 *   npm run bench:mogface -- --json                    # the whole bench report as JSON
 *
 * Other flags go to `facefleet bench` unchanged. Environment: FACEFLEET_MODEL_CACHE (cache folder,
 * default ~/.cache/facefleet/models), PYTHON (default /usr/bin/python3).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function take(args, flag, fallback) {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
}

function main() {
  const args = process.argv.slice(2);
  const variant = take(args, '--variant', 'full');
  if (!['full', 'tiny'].includes(variant)) throw new Error(`--variant: expected full or tiny; given ${JSON.stringify(variant)}`);
  const canvas = take(args, '--canvas', '320');
  const count = take(args, '--count', '8');
  const batches = take(args, '--batches', '1,4,8');
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');

  const cache = process.env.FACEFLEET_MODEL_CACHE ? path.resolve(process.env.FACEFLEET_MODEL_CACHE) : path.join(os.homedir(), '.cache', 'facefleet', 'models');
  const model = path.join(cache, 'mogface-bench', `mogface-${variant}-random-seed1.onnx`);
  if (fs.existsSync(model) && fs.existsSync(`${model}.manifest.json`)) {
    process.stderr.write(`using ${model} (exported earlier; delete it to export again)\n`);
  } else {
    fs.mkdirSync(path.dirname(model), { recursive: true });
    process.stderr.write(`exporting MogFace ${variant} with random weights to ${model} (full: ~20-40 s, 244 MB)…\n`);
    const python = process.env.PYTHON || '/usr/bin/python3';
    const exported = spawnSync(python, [path.join(root, 'models', 'mogface', 'export.py'), '--random-init', '--seed', '1', '--variant', variant, '--output', model], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (exported.status !== 0) throw new Error(`export.py failed (exit ${exported.status}); see models/mogface/README.md for its requirements`);
  }

  const benchArgs = [
    path.join(root, 'bin', 'facefleet.js'), 'bench', '--json',
    '--model', 'mogface', '--model-path', model, '--canvas', canvas, '--count', count,
    '--phases', 'none', '--sweep', '--batches', batches, '--sweep-workers', '1', '--seconds', '5',
    ...rest,
  ];
  process.stderr.write(`node ${benchArgs.join(' ')}\n`);
  const run = spawnSync(process.execPath, benchArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`facefleet bench failed (exit ${run.status})`);
  if (json) {
    process.stdout.write(run.stdout);
    return;
  }
  const report = JSON.parse(run.stdout.toString('utf8'));
  const ms = (ips) => (ips ? (1000 / ips).toFixed(0) : '-');
  const lines = [
    `MogFace ${variant} (random weights), canvas ${canvas}×${canvas}, ${report.host.cpus} CPUs (${report.host.cpuModel}), load average ${report.host.loadAverage.start} → ${report.host.loadAverage.end}`,
    `${'batch'.padEnd(6)}${'ceiling ms/image'.padStart(18)}${'in-process ms/image'.padStart(21)}${'pipeline ms/image'.padStart(19)}${'worker peak RSS'.padStart(17)}`,
  ];
  for (const row of report.sweep) {
    const rss = row.rssPeakMb['1'];
    lines.push(`${String(row.batch).padEnd(6)}${ms(row.ceiling).padStart(18)}${ms(row.inProcess).padStart(21)}${ms(row.pipeline['1']).padStart(19)}${(rss == null ? '-' : `${rss} MB`).padStart(17)}`);
  }
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`bench:mogface: ${err.message}\n`);
  process.exitCode = 1;
}
