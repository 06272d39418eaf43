import { InstallHost, planRedisInstall } from '../../src/demo/ensure-redis';

const host = (over: Partial<InstallHost> & { tools?: string[] }): InstallHost => {
  const tools = new Set(over.tools ?? []);
  return { platform: 'linux', has: (c) => tools.has(c), root: false, sudo: false, noInstall: false, ...over };
};

describe('planRedisInstall', () => {
  it('installs the Debian package with apt-get as root, without sudo', () => {
    expect(planRedisInstall(host({ tools: ['apt-get'], root: true }))).toEqual({
      action: 'install',
      manager: 'apt-get',
      steps: [['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', 'redis-server']],
      command: 'apt-get update && apt-get install -y redis-server',
    });
  });

  it('goes through passwordless sudo when not root', () => {
    const plan = planRedisInstall(host({ tools: ['dnf', 'sudo'], sudo: true }));
    expect(plan).toMatchObject({ action: 'install', steps: [['sudo', 'dnf', 'install', '-y', 'redis']] });
  });

  it('prints the exact command when it may not install', () => {
    expect(planRedisInstall(host({ tools: ['apt-get'] }))).toEqual({
      action: 'instruct',
      command: 'sudo apt-get update && sudo apt-get install -y redis-server',
      reason: 'installing needs root, and sudo asks for a password',
    });
    expect(planRedisInstall(host({ tools: ['apk'], root: true, noInstall: true }))).toEqual({ action: 'instruct', command: 'apk add redis', reason: 'FACEFLEET_NO_INSTALL=1' });
  });

  it('picks the first manager found, brew on macOS (no root needed), and says when there is none', () => {
    expect(planRedisInstall(host({ tools: ['yum', 'apk'], root: true }))).toMatchObject({ manager: 'yum' });
    expect(planRedisInstall(host({ platform: 'darwin', tools: ['brew', 'apt-get'] }))).toMatchObject({ action: 'install', steps: [['brew', 'install', 'redis']] });
    expect(planRedisInstall(host({ platform: 'linux', tools: ['brew'] }))).toMatchObject({ action: 'instruct', reason: expect.stringContaining('no known package manager') });
  });
});
