import { FacefleetError, listenError } from '../../src/errors';
import { exitCodeFor, failStart } from '../../src/lifecycle/fail-start';
import { Lifecycle, ShutdownPhase } from '../../src/lifecycle/lifecycle';
import { captureLog } from '../support/log-capture';

/** A failStart run against a fake process, stderr and logger; returns what they received. */
function fail(err: unknown, options: { command?: string; exitDeadlineMs?: number } = {}) {
  const target: { exitCode?: number | string | null; exits: number[]; exit(code: number): void } = {
    exits: [],
    exit(code) {
      this.exits.push(code);
    },
  };
  let stderr = '';
  const { log, lines } = captureLog();
  const returned = failStart(err, { ...options, log, process: target, stderr: { write: (t: string) => (stderr += t) } });
  return { returned, target, stderr: () => stderr, lines };
}

describe('failStart', () => {
  it('exits 64 on E_CONFIG and 1 on every other code', () => {
    expect(exitCodeFor('E_CONFIG')).toBe(64);
    for (const code of ['E_MODEL', 'E_DEPENDENCY', 'E_INTERNAL', 'E_REDIS', 'E_DECODE'] as const) expect({ code, exit: exitCodeFor(code) }).toEqual({ code, exit: 1 });
  });

  it('sets exit code 64 for a bad configuration, prints the classified line and logs it as fatal', () => {
    const run = fail(new FacefleetError('E_CONFIG', 'batch (--batch): expected an integer from 1 to 256; given "0"'), { command: 'worker' });
    expect(run.returned).toBe(64);
    expect(run.target.exitCode).toBe(64);
    expect(run.stderr()).toBe('facefleet worker: E_CONFIG: batch (--batch): expected an integer from 1 to 256; given "0"\n');
    expect(run.lines).toEqual([expect.objectContaining({ level: 60, msg: 'worker cannot start', code: 'E_CONFIG', err: expect.stringContaining('--batch') })]);
    expect(run.target.exits).toEqual([]);
  });

  it('classifies an unclassified error as E_INTERNAL, exit 1, with its stack on stderr and in the log', () => {
    const bug = new TypeError('undefined is not a function');
    const run = fail(bug, { command: 'serve' });
    expect(run.returned).toBe(1);
    expect(run.target.exitCode).toBe(1);
    expect(run.stderr()).toMatch(/^facefleet serve: E_INTERNAL: undefined is not a function\nTypeError: undefined is not a function\n\s+at /);
    expect(run.lines[0]).toMatchObject({ level: 60, code: 'E_INTERNAL', err: { type: 'TypeError', message: 'undefined is not a function', stack: expect.stringContaining('TypeError') } });
  });

  it('prints "facefleet:" without a command, and no credentials', () => {
    const run = fail(new FacefleetError('E_MODEL', 'cannot fetch https://user:hunter2@example.com/model.onnx'));
    expect(run.returned).toBe(1);
    expect(run.stderr()).toBe('facefleet: E_MODEL: cannot fetch https://user:***@example.com/model.onnx\n');
  });

  it('ends the process itself only when something still holds it after the deadline, saying so', async () => {
    const run = fail(new FacefleetError('E_CONFIG', 'x'), { command: 'worker', exitDeadlineMs: 20 });
    expect(run.target.exits).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(run.target.exits).toEqual([64]);
    expect(run.stderr()).toMatch(/facefleet worker: still running 20 ms after failing .*: exiting\n$/);
  });
});

describe('Lifecycle closers', () => {
  it('runs closers by phase, in registration order within one, each once, past a failing one', async () => {
    const ran: string[] = [];
    const lifecycle = new Lifecycle({ drainDeadlineMs: 1000 });
    const step = (name: string, phase: ShutdownPhase, fails = false) => {
      const close = () => {
        ran.push(name);
        if (fails) throw new Error(`${name} failed`);
      };
      lifecycle.add({ name, phase, close });
    };
    // Registered as a start creates them: logs first, then the session, Redis, storage, the worker...
    step('flush logs', 'logs');
    step('close the session', 'session');
    step('close redis', 'connections');
    step('close storage', 'clients', true);
    step('stop fetching', 'intake');
    step('stop the queue monitor', 'clients');
    step('stop the metrics server', 'server');
    const first = lifecycle.close();
    expect(lifecycle.close()).toBe(first);
    expect(await first).toBe(false);
    expect(ran).toEqual(['stop fetching', 'close the session', 'close storage', 'stop the queue monitor', 'close redis', 'stop the metrics server', 'flush logs']);
    expect(lifecycle.state).toBe('failed');
    await lifecycle.close();
    expect(ran).toHaveLength(7);
  });
});

describe('listenError', () => {
  const bindError = (code: string) => Object.assign(new Error(`listen ${code}: 127.0.0.1:9464`), { code });

  it('makes an address that cannot be bound E_CONFIG naming the option and the address', () => {
    const err = listenError(bindError('EADDRINUSE'), 'metricsPort (--metrics-port)', '127.0.0.1', 9464);
    expect(err).toMatchObject({ code: 'E_CONFIG', message: 'metricsPort (--metrics-port): cannot listen on 127.0.0.1:9464: the port is already in use by another process (EADDRINUSE)' });
    expect(listenError(bindError('EADDRNOTAVAIL'), 'port (--port)', '::1', 80).message).toMatch(/^port \(--port\): cannot listen on \[::1\]:80: /);
  });

  it('leaves other failures to the usual classification', () => {
    expect(listenError(bindError('ECONNRESET'), 'port (--port)', '127.0.0.1', 1).code).toBe('E_INTERNAL');
    const decoded = new FacefleetError('E_MODEL', 'x');
    expect(listenError(decoded, 'port (--port)', '127.0.0.1', 1)).toBe(decoded);
  });
});
