import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';

/**
 * scripts/setup.sh's detection, run in its dry-run mode against a PATH and tool folders made here:
 * what it would install for each missing tool. Nothing is installed or removed.
 */
const script = path.join(findRepoRoot(), 'scripts', 'setup.sh');
const COMMANDS = ['redis-server', 'redis-cli', 'curl', 'promtool', 'prometheus', 'prometheus-alertmanager'];
const ALL_DEBIAN = ['redis-server', 'curl', 'prometheus', 'prometheus-alertmanager', 'chromium', 'python3-torch', 'python3-numpy', 'python3-onnx', 'python3-pytest'];

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-setup-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A folder of stub executables (`#!/bin/sh` exiting 0) with these names. */
function stubs(name: string, names: readonly string[]): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const n of names) {
    fs.writeFileSync(path.join(dir, n), '#!/bin/sh\nexit 0\n');
    fs.chmodSync(path.join(dir, n), 0o755);
  }
  return dir;
}

function plan(opts: { commands: readonly string[]; chromium: boolean; python: boolean; tools: readonly string[] }, label: string): string[] {
  const bin = stubs(`${label}-bin`, opts.commands);
  const tools = stubs(`${label}-tools/bin`, opts.tools);
  const py = opts.python ? path.join(stubs(`${label}-py`, ['python3']), 'python3') : path.join(tmp, 'no-python3');
  const chromium = opts.chromium ? path.join(stubs(`${label}-chromium`, ['chromium']), 'chromium') : path.join(tmp, 'no-chromium');
  const run = spawnSync('/bin/bash', [script, '--dry-run'], {
    encoding: 'utf8',
    env: { PATH: bin, HOME: tmp, FACEFLEET_TOOLS: path.dirname(tools), FACEFLEET_SETUP_PYTHON: py, FACEFLEET_SETUP_OS_PYTHON: py, FACEFLEET_SETUP_CHROMIUM: chromium },
  });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
  return run.stderr.trim().split('\n');
}

describe('scripts/setup.sh --dry-run', () => {
  it('plans every Debian package, both Go tools and the pip install on a machine with none of them', () => {
    const lines = plan({ commands: [], chromium: false, python: false, tools: [] }, 'bare');
    expect(lines).toEqual([
      `setup: would install Debian packages: ${ALL_DEBIAN.join(' ')}`,
      expect.stringMatching(/^setup: would fetch the Go toolchain go1\.25\.0 \(Go module golang\.org\/toolchain\) into .*$/),
      expect.stringMatching(/^setup: would build with Go into .*: versitygw helm$/),
      'setup: would install with pip: examples/python/requirements.txt (bullmq)',
    ]);
  });

  it('plans nothing when everything is there', () => {
    expect(plan({ commands: COMMANDS, chromium: true, python: true, tools: ['versitygw', 'helm'] }, 'full')).toEqual(['setup: nothing to install']);
  });

  const provider: Record<string, string> = {
    'redis-server': 'redis-server',
    'redis-cli': 'redis-server',
    curl: 'curl',
    promtool: 'prometheus',
    prometheus: 'prometheus',
    'prometheus-alertmanager': 'prometheus-alertmanager',
  };
  for (const missing of COMMANDS) {
    it(`plans only ${provider[missing]} when ${missing} is missing`, () => {
      const lines = plan({ commands: COMMANDS.filter((c) => c !== missing), chromium: true, python: true, tools: ['versitygw', 'helm'] }, `no-${missing}`);
      expect(lines).toEqual([`setup: would install Debian packages: ${provider[missing]}`]);
    });
  }

  it('plans only chromium, or only the Go tool that is missing', () => {
    expect(plan({ commands: COMMANDS, chromium: false, python: true, tools: ['versitygw', 'helm'] }, 'no-chromium')).toEqual(['setup: would install Debian packages: chromium']);
    expect(plan({ commands: COMMANDS, chromium: true, python: true, tools: ['versitygw'] }, 'no-helm')).toEqual([
      expect.stringMatching(/would fetch the Go toolchain/),
      expect.stringMatching(/would build with Go into .*: helm$/),
    ]);
  });

  it('uses a Go 1.21 or newer from PATH, and fetches the toolchain beside an older one', () => {
    const goStub = (version: string, label: string) => {
      const dir = stubs(label, []);
      fs.writeFileSync(path.join(dir, 'go'), `#!/bin/sh\necho ${version}\n`);
      fs.chmodSync(path.join(dir, 'go'), 0o755);
      return dir;
    };
    for (const [version, fetches] of [['go1.26.8', false], ['go1.19.8', true]] as const) {
      const bin = stubs(`go-${version}-bin`, COMMANDS);
      for (const c of fs.readdirSync(goStub(version, `go-${version}`))) fs.copyFileSync(path.join(tmp, `go-${version}`, c), path.join(bin, c));
      fs.chmodSync(path.join(bin, 'go'), 0o755);
      const py = path.join(stubs(`go-${version}-py`, ['python3']), 'python3');
      const chromium = path.join(stubs(`go-${version}-chromium`, ['chromium']), 'chromium');
      const run = spawnSync('/bin/bash', [script, '--dry-run'], {
        encoding: 'utf8',
        env: { PATH: bin, HOME: tmp, FACEFLEET_TOOLS: path.join(tmp, `go-${version}-tools`), FACEFLEET_SETUP_PYTHON: py, FACEFLEET_SETUP_OS_PYTHON: py, FACEFLEET_SETUP_CHROMIUM: chromium },
      });
      expect({ version, fetch: run.stderr.includes('would fetch the Go toolchain') }).toEqual({ version, fetch: fetches });
      expect(run.stderr).toContain('would build with Go');
    }
  });

  it('installs nothing with FACEFLEET_NO_INSTALL=1, and says what it would do', () => {
    const run = spawnSync('/bin/bash', [script], { encoding: 'utf8', env: { PATH: path.join(tmp, 'nowhere'), HOME: tmp, FACEFLEET_NO_INSTALL: '1', FACEFLEET_SETUP_PYTHON: '/nonexistent', FACEFLEET_SETUP_OS_PYTHON: '/nonexistent', FACEFLEET_TOOLS: path.join(tmp, 'nowhere') } });
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('would install Debian packages: redis-server');
  });
});
