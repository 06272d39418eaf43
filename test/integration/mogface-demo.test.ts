import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import { describeWith } from '../support/prerequisites';

const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** A MogFace export (tiny, random weights) runs through the whole queue path with --model mogface. */
describeWith({ name: `${PY} with torch`, available: hasTorch, install: 'Debian: apt-get install python3-torch python3-onnx' }, 'facefleet demo --model mogface', () => {
  const root = findRepoRoot();
  let tmp: string;
  beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-mogdemo-'))));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('completes through the queue and says the random-init model is not a detector', () => {
    const onnx = path.join(tmp, 'tiny.onnx');
    const exp = spawnSync(PY, [path.join(root, 'models', 'mogface', 'export.py'), '--random-init', '--seed', '3', '--variant', 'tiny', '--output', onnx], { encoding: 'utf8', timeout: 300_000 });
    expect(exp.status).toBe(0);
    const env = { ...process.env, REDIS_URL: '' };
    const run = spawnSync(process.execPath, [path.join(root, 'bin', 'facefleet.js'), 'demo', '--json', '--model', 'mogface', '--model-path', onnx, '--canvas', '160', '--out', path.join(tmp, 'out')], { cwd: root, encoding: 'utf8', env, timeout: 300_000 });
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout);
    const samples = fs.readdirSync(path.join(root, 'samples')).filter((f) => !f.endsWith('.md')).length;
    expect(summary.images).toBe(samples);
    expect(summary.succeeded + summary.failed).toBe(samples);
    expect(summary.failures).toEqual([{ key: 'corrupt-truncated.jpg', code: 'E_DECODE' }]);
    expect(summary.warnings.join(' ')).toMatch(/random-init: not a detector/);
    const result = JSON.parse(fs.readFileSync(path.join(tmp, 'out', 'results', 'astronaut.png.json'), 'utf8'));
    expect(result.model.id).toBe('mogface');
    expect(result.image).toMatchObject({ width: 512, height: 512 });
  });
});
