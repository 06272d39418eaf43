import { spawnSync } from 'node:child_process';
import { FacefleetError } from '../errors';
import { hasRedisServer } from '../queue/private-redis';

/** What this machine offers for installing Redis (probed by {@link probeInstallHost}). */
export interface InstallHost {
  platform: NodeJS.Platform;
  /** Whether a command is on PATH. */
  has(cmd: string): boolean;
  /** True when running as root. */
  root: boolean;
  /** True when `sudo -n true` works (passwordless sudo). */
  sudo: boolean;
  /** `FACEFLEET_NO_INSTALL=1`: never install. */
  noInstall: boolean;
}

/** What to do about a missing redis-server. */
export type RedisInstallPlan =
  | { action: 'install'; steps: string[][]; command: string; manager: string }
  | { action: 'instruct'; command: string; reason: string };

const MANAGERS: Array<{ name: string; steps: string[][]; needsRoot: boolean; linux: boolean }> = [
  { name: 'apt-get', steps: [['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', 'redis-server']], needsRoot: true, linux: true },
  { name: 'dnf', steps: [['dnf', 'install', '-y', 'redis']], needsRoot: true, linux: true },
  { name: 'yum', steps: [['yum', 'install', '-y', 'redis']], needsRoot: true, linux: true },
  { name: 'apk', steps: [['apk', 'add', 'redis']], needsRoot: true, linux: true },
  { name: 'brew', steps: [['brew', 'install', 'redis']], needsRoot: false, linux: false },
];

/**
 * Decides how the demo gets a redis-server: the distribution's package through the first package
 * manager found (apt-get, dnf, yum, apk; brew on macOS), run directly as root or through passwordless
 * sudo; otherwise the exact command for the user to run. Pure.
 */
export function planRedisInstall(host: InstallHost): RedisInstallPlan {
  const manager = MANAGERS.find((m) => (host.platform === 'darwin' ? m.name === 'brew' : m.linux) && host.has(m.name));
  if (!manager) {
    return { action: 'instruct', command: 'install Redis 6 or later with your package manager', reason: 'no known package manager (apt-get, dnf, yum, apk, brew) is on PATH' };
  }
  const prefix = manager.needsRoot && !host.root ? ['sudo'] : [];
  const steps = manager.steps.map((s) => [...prefix, ...s]);
  const command = steps.map((s) => s.filter((a) => a !== '-qq').join(' ')).join(' && ');
  if (host.noInstall) return { action: 'instruct', command, reason: 'FACEFLEET_NO_INSTALL=1' };
  if (manager.needsRoot && !host.root && !host.sudo) return { action: 'instruct', command, reason: 'installing needs root, and sudo asks for a password' };
  return { action: 'install', steps, command, manager: manager.name };
}

/** The real host. */
export function probeInstallHost(env: NodeJS.ProcessEnv = process.env): InstallHost {
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return {
    platform: process.platform,
    has,
    root,
    sudo: !root && has('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0,
    noInstall: env.FACEFLEET_NO_INSTALL === '1',
  };
}

/**
 * Makes sure `redis-server` is on PATH for the demo's private Redis: installs the distribution's
 * package when this process may (saying so in one line through `say`), or throws
 * `FacefleetError('E_DEPENDENCY')` with the exact command to run.
 */
export function ensureRedisServer(say: (line: string) => void, host: InstallHost = probeInstallHost()): void {
  if (hasRedisServer()) return;
  const plan = planRedisInstall(host);
  if (plan.action === 'instruct') {
    throw new FacefleetError('E_DEPENDENCY', `redis-server is not on PATH and the demo will not install it (${plan.reason}). Run: ${plan.command} — or set REDIS_URL to a Redis you own.`);
  }
  say(`redis-server is not installed: installing it with \`${plan.command}\` for the demo's private Redis (FACEFLEET_NO_INSTALL=1 turns this off)`);
  for (const [cmd, ...args] of plan.steps) {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
    if (r.status !== 0) {
      throw new FacefleetError('E_DEPENDENCY', `installing redis-server failed (${[cmd, ...args].join(' ')} exited ${r.status ?? r.signal}). Run: ${plan.command} — or set REDIS_URL.`);
    }
  }
  if (!hasRedisServer()) throw new FacefleetError('E_DEPENDENCY', `${plan.manager} finished but redis-server is still not on PATH. Install Redis, or set REDIS_URL.`);
}
