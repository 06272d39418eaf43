import { Queue } from 'bullmq';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { findRepoRoot } from '../../src/models/registry';
import { createRedis } from '../../src/queue/connection';
import { alertmanagerBinary } from '../../tools/harness/alertmanager';
import { freePort } from '../../src/lifecycle/free-port';
import { onPath } from '../../tools/harness/prometheus';
import { pollUntil } from '../../tools/harness/poll';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { describeWith, itWith } from '../support/prerequisites';

const LOCAL = path.join(findRepoRoot(), 'deploy', 'local');
const MANAGE = path.join(LOCAL, 'manage');

describe('deploy/local configs', () => {
  itWith({ name: 'promtool', available: Boolean(onPath('promtool')), install: 'Debian: apt-get install prometheus' }, 'prometheus.yml passes promtool check config (rules included)', () => {
    const res = spawnSync('promtool', ['check', 'config', path.join(LOCAL, 'prometheus.yml')], { encoding: 'utf8' });
    expect(`${res.stdout}${res.stderr}`).toMatch(/SUCCESS: \d+ rules found/);
    expect(res.status).toBe(0);
  });

  itWith({ name: 'amtool', available: Boolean(onPath('amtool')), install: 'Debian: apt-get install prometheus-alertmanager' }, 'alertmanager.yml passes amtool check-config', () => {
    const res = spawnSync('amtool', ['check-config', path.join(LOCAL, 'alertmanager.yml')], { encoding: 'utf8' });
    expect(`${res.stdout}${res.stderr}`).toContain('SUCCESS');
    expect(res.status).toBe(0);
  });

  it('alertmanager.yml holds placeholders, not secrets, and sends resolved notifications', () => {
    const text = fs.readFileSync(path.join(LOCAL, 'alertmanager.yml'), 'utf8');
    expect(text).not.toMatch(/(password|api_key|token|secret|routing_key)\s*:/i);
    const config = YAML.parse(text) as { receivers: Array<{ webhook_configs?: Array<{ url: string; send_resolved: boolean }> }> };
    for (const r of config.receivers) for (const w of r.webhook_configs ?? []) expect(w).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/), send_resolved: true });
  });

  it('compose.yaml runs the four services, with mounts that exist and the admin API the backup needs', () => {
    const compose = YAML.parse(fs.readFileSync(path.join(LOCAL, 'compose.yaml'), 'utf8')) as { services: Record<string, { image: string; command?: string[]; volumes?: string[] }> };
    expect(Object.keys(compose.services).sort()).toEqual(['alertmanager', 'grafana', 'node-exporter', 'prometheus']);
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, image: service.image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:v?\d+\.\d+\.\d+$/) });
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('.')) expect({ name, source, exists: fs.existsSync(path.resolve(LOCAL, source)) }).toEqual({ name, source, exists: true });
      }
    }
    expect(compose.services.prometheus.command).toContain('--web.enable-admin-api');
    // The rules and dashboard mounts are the folders the repository keeps them in.
    expect(compose.services.prometheus.volumes).toContain('../../prometheus-rules:/etc/prometheus/rules:ro');
    expect(compose.services.grafana.volumes).toContain('../../dashboards:/var/lib/grafana/dashboards:ro');
  });

  it('Grafana provisioning points at the mounted dashboards and the local Prometheus', () => {
    const provider = YAML.parse(fs.readFileSync(path.join(LOCAL, 'grafana/provisioning/dashboards/facefleet.yml'), 'utf8'));
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    const datasource = YAML.parse(fs.readFileSync(path.join(LOCAL, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8'));
    expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://127.0.0.1:9090' });
  });
});

const binaries = [
  { name: 'prometheus', available: Boolean(onPath('prometheus')), install: 'Debian: apt-get install prometheus' },
  { name: 'alertmanager', available: Boolean(alertmanagerBinary()), install: 'Debian: apt-get install prometheus-alertmanager' },
  { name: 'redis-server and redis-cli', available: Boolean(onPath('redis-server') && onPath('redis-cli')), install: 'Debian: apt-get install redis-server' },
  { name: 'curl', available: Boolean(onPath('curl')), install: 'Debian: apt-get install curl' },
];

/**
 * `manage` without Docker: up, status, backup of a live Prometheus and Redis, down; then restore
 * into a fresh stack and a fresh Redis, which hold the same series and the same queued jobs.
 */
describeWith(binaries, 'deploy/local/manage with the binaries on PATH', () => {
  let tmp: string;
  let redis: PrivateRedis | undefined;
  let restoredRedis: PrivateRedis | undefined;
  const envs: NodeJS.ProcessEnv[] = [];

  async function stackEnv(name: string, redisUrl: string): Promise<NodeJS.ProcessEnv> {
    const env = {
      ...process.env,
      FACEFLEET_STACK_MODE: 'binaries',
      FACEFLEET_STACK_DIR: path.join(tmp, name),
      FACEFLEET_BACKUP_DIR: path.join(tmp, 'backups'),
      FACEFLEET_SCRAPE_INTERVAL: '1s',
      PROMETHEUS_PORT: String(await freePort()),
      ALERTMANAGER_PORT: String(await freePort()),
      REDIS_URL: redisUrl,
    };
    envs.push(env);
    return env;
  }

  function manage(env: NodeJS.ProcessEnv, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const res = spawnSync('bash', [MANAGE, ...args], { env, encoding: 'utf8', timeout: 300_000 });
    return { status: res.status, stdout: res.stdout, stderr: res.stderr };
  }

  async function query(env: NodeJS.ProcessEnv, expr: string, time: number): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const res = await fetch(`http://127.0.0.1:${env.PROMETHEUS_PORT}/api/v1/query?query=${encodeURIComponent(expr)}&time=${time}`);
    return ((await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result;
  }

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-local-'));
  });

  afterAll(async () => {
    for (const env of envs) manage(env, 'down');
    await redis?.stop();
    await restoredRedis?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('backs up a live Prometheus and Redis and restores them into fresh ones', async () => {
    redis = await startRedis();
    const queueName = uniqueQueue('backup');
    const connection = createRedis(redis.url);
    const queue = new Queue(queueName, { connection });
    const added = await queue.addBulk([1, 2, 3].map((i) => ({ name: 'detect', data: { key: `img-${i}.jpg` }, opts: { jobId: `job-${i}` } })));
    await queue.close();
    await connection.quit();

    const first = await stackEnv('first', redis.url);
    const up = manage(first, 'up');
    expect({ status: up.status, stderr: up.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('up: prometheus') });
    const status = manage(first, 'status');
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/prometheus\s+running/);
    expect(status.stdout).toMatch(/alertmanager\s+running/);

    // A few self-scrapes, then a fixed instant to compare before and after.
    const at = await pollUntil(() => 'Prometheus did not scrape itself three times', async () => {
      const now = Date.now() / 1000;
      const r = await query(first, 'count_over_time(up{job="prometheus"}[10m])', now).catch(() => []);
      return Number(r[0]?.value[1] ?? 0) >= 3 ? now : undefined;
    }, 60_000, 500);
    const seriesBefore = await query(first, 'count_over_time(up[10m])', at);
    expect(seriesBefore.length).toBeGreaterThan(0);

    const backup = manage(first, 'backup');
    expect({ status: backup.status, stderr: backup.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('backup written') });
    const dir = backup.stdout.trim().split('\n').pop()!;
    for (const f of ['MANIFEST', 'redis/dump.rdb', 'config/prometheus.yml', 'config/alertmanager.yml', 'config/rules/facefleet.rules.yml']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'prometheus')).length).toBeGreaterThan(0);
    expect(manage(first, 'down').status).toBe(0);
    expect(manage(first, 'status').status).toBe(3);

    // A fresh stack and a fresh Redis folder.
    const redisDir = path.join(tmp, 'redis-restored');
    const second = await stackEnv('second', redis.url);
    const restore = manage({ ...second, FACEFLEET_REDIS_DIR: redisDir }, 'restore', dir);
    expect({ status: restore.status, stderr: restore.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('redis RDB restored') });
    expect(manage(second, 'up').status).toBe(0);
    expect(await query(second, 'count_over_time(up[10m])', at)).toEqual(seriesBefore);

    restoredRedis = await startRedis({ dir: redisDir });
    const restoredConnection = createRedis(restoredRedis.url);
    const restoredQueue = new Queue(queueName, { connection: restoredConnection });
    const waiting = await restoredQueue.getWaiting();
    expect(waiting.map((j) => [j.id, j.data]).sort()).toEqual(added.map((j) => [j.id, j.data]).sort());
    await restoredQueue.close();
    await restoredConnection.quit();
  });

  it('refuses a folder that is not a backup, and a backup whose files changed', () => {
    const env = envs[1];
    const notBackup = manage(env, 'restore', tmp);
    expect(notBackup.status).not.toBe(0);
    expect(notBackup.stderr).toContain('is not a backup');
    const dir = path.join(tmp, 'backups', fs.readdirSync(path.join(tmp, 'backups'))[0]);
    fs.appendFileSync(path.join(dir, 'config', 'prometheus.yml'), '\n# edited\n');
    const tampered = manage(env, 'restore', dir);
    expect(tampered.status).not.toBe(0);
    expect(tampered.stderr).toContain('checksums do not match');
  });
});
