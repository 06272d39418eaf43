import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import { describeWith } from '../support/prerequisites';

const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch, pytest'], { stdio: 'ignore' }).status === 0;

/** The exporter's own pytest suite (architecture, strict checkpoint loading, reference decoder). */
describeWith({ name: `${PY} with torch and pytest`, available: hasTorch, install: 'Debian: apt-get install python3-torch python3-pytest' }, 'models/mogface python tests', () => {
  it('pass under Debian python3-torch', () => {
    const root = findRepoRoot();
    const run = spawnSync(PY, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', path.join(root, 'models', 'mogface')], { cwd: root, encoding: 'utf8', timeout: 600_000 });
    if (run.status !== 0) process.stderr.write(`${run.stdout}\n${run.stderr}\n`);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\d+ passed/);
  });
});
if (!hasTorch) process.stderr.write('mogface python tests skipped: /usr/bin/python3 lacks torch or pytest (apt-get install python3-torch python3-pytest)\n');
