import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';

const root = findRepoRoot();

/**
 * What the images ship, laid out as the Dockerfile copies it (bin, the product's dist, models, the
 * console, the dependencies) and nothing of tools/: the product's commands run; the tooling commands
 * are listed as needing a source checkout and say so, never failing on a missing module.
 */
describe('an install of the product alone', () => {
  let app: string;
  const facefleet = (script: string, args: string[]) => spawnSync(process.execPath, [path.join(app, script), ...args], { cwd: app, encoding: 'utf8', timeout: 60_000 });

  beforeAll(() => {
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-product-'));
    for (const part of ['bin', 'dist/src', 'dist/workers', 'dist/producer', 'models', 'src/console', 'package.json']) {
      fs.cpSync(path.join(root, part), path.join(app, part), { recursive: true });
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(app, 'node_modules'));
  });
  afterAll(() => fs.rmSync(app, { recursive: true, force: true }));

  it('runs the product commands', () => {
    const run = facefleet('bin/facefleet.js', ['models', 'list']);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toMatch(/^retinaface@/m);
  });

  it('lists bench and chaos as needing a source checkout', () => {
    const help = facefleet('bin/facefleet.js', ['--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/bench \[options\] measure .* \(needs a source checkout\)/);
    expect(help).toMatch(/chaos \[options\] reliability suite: .* \(needs a source checkout\)/);
  });

  it.each(['bench', 'chaos'])('%s says it needs a source checkout', (command) => {
    const run = facefleet('bin/facefleet.js', [command]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^facefleet: E_DEPENDENCY: facefleet ${command} is tooling that runs from a source checkout`));
    expect(run.stderr).not.toMatch(/Cannot find module|MODULE_NOT_FOUND/);
  });

  it('starts a worker and a producer from their entry points as the CLI commands', () => {
    expect(facefleet('dist/workers/worker.js', ['--help']).stdout).toMatch(/^Usage: facefleet worker \[options\]/);
    expect(facefleet('dist/producer/enqueue.js', ['--help']).stdout).toMatch(/^Usage: facefleet enqueue \[options\] \[keys\.\.\.\]/);
  });
});
