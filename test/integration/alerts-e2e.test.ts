import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { createRedis } from '../../src/queue/connection';
import { isRunFinished, RunStore } from '../../src/queue/run-store';
import { StoreRegistry } from '../../src/storage/store-registry';
import { createLogger } from '../../src/telemetry/logger';
import { RunningWorker, startWorker } from '../../src/worker/start-worker';
import { AlertmanagerServer, alertmanagerBinary, startAlertmanager, startWebhookReceiver, WebhookNotification, WebhookReceiver } from '../../tools/harness/alertmanager';
import { allFixtures, fixturesRoot } from '../support/fixtures';
import { freePort } from '../../src/lifecycle/free-port';
import { onPath, PrometheusServer, readRuleGroups, RuleGroup, startPrometheus } from '../../tools/harness/prometheus';
import { pollUntil } from '../../tools/harness/poll';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { describeWith } from '../support/prerequisites';

const ALERT = 'FacefleetQueueBacklogHigh';
/** Jobs above which the test copy of the rules calls the backlog high. */
const TEST_BACKLOG_THRESHOLD = 5;

/**
 * The repository's rules with test timings: every group evaluated each second, every `for:` 5 s,
 * and the backlog threshold lowered to a handful of jobs. Expressions are untouched.
 */
function testRules(): RuleGroup[] {
  return readRuleGroups().map((g) => ({
    ...g,
    interval: '1s',
    rules: g.rules.map((r) => {
      if (r.record === 'facefleet:config:backlog_threshold') return { ...r, expr: `vector(${TEST_BACKLOG_THRESHOLD})` };
      return r.for ? { ...r, for: '5s' } : r;
    }),
  }));
}

const servers = [
  { name: 'prometheus', available: Boolean(onPath('prometheus')), install: 'Debian: apt-get install prometheus' },
  { name: 'alertmanager', available: Boolean(alertmanagerBinary()), install: 'Debian: apt-get install prometheus-alertmanager' },
];

/**
 * End to end: a real Prometheus scrapes two real workers and evaluates the repository's rules; a
 * backlog builds on a paused queue, FacefleetQueueBacklogHigh fires and a real Alertmanager posts it
 * to a webhook here; the queue is resumed, the workers drain it, and the resolved notification follows.
 */
describeWith(servers, 'alerts end to end', () => {
  let redis: PrivateRedis;
  let connection: Redis;
  let queue: Queue;
  let runs: RunStore;
  let webhook: WebhookReceiver;
  let alertmanager: AlertmanagerServer;
  let prometheus: PrometheusServer;
  let tmp: string;
  const workers: RunningWorker[] = [];
  const queueName = uniqueQueue('alerts');
  const fixtures = allFixtures();

  const notificationsFor = (status: 'firing' | 'resolved'): WebhookNotification[] =>
    webhook.notifications.filter((n) => n.alerts.some((a) => a.labels.alertname === ALERT && a.labels.queue === queueName && a.status === status));
  const state = async () =>
    `alerts: ${JSON.stringify(await prometheus.alerts().catch((e) => String(e)))}; notifications: ${JSON.stringify(webhook.notifications.map((n) => [n.status, n.commonLabels]))}; ` +
    `backlog: ${JSON.stringify(await prometheus.query('queue:facefleet_queue_backlog:max').catch((e) => String(e)))}`;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-alerts-'));
    redis = await startRedis();
    connection = createRedis(redis.url);
    queue = new Queue(queueName, { connection, prefix: 'bull' });
    runs = new RunStore(connection, { queue: queueName, prefix: 'bull' });
    // Paused before any worker exists: the backlog builds with nobody consuming.
    await queue.pause();

    webhook = await startWebhookReceiver();
    alertmanager = await startAlertmanager({
      config: {
        route: { receiver: 'test', group_by: ['alertname', 'queue'], group_wait: '1s', group_interval: '2s', repeat_interval: '1h' },
        receivers: [{ name: 'test', webhook_configs: [{ url: webhook.url, send_resolved: true }] }],
      },
    });

    for (let i = 0; i < 2; i++) {
      const config = loadWorkerConfig({ redisUrl: redis.url, queue: queueName, batch: 4, metricsHost: '127.0.0.1', metricsPort: await freePort(), workerId: `alerts-w${i}` }, {});
      workers.push(await startWorker(config, createLogger({ level: 'silent' }), { handleSignals: false }));
    }

    prometheus = await startPrometheus({
      config: {
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        alerting: { alertmanagers: [{ static_configs: [{ targets: [alertmanager.address] }] }] },
        rule_files: ['facefleet.rules.yml'],
        scrape_configs: [{ job_name: 'facefleet', static_configs: [{ targets: workers.map((w) => `127.0.0.1:${w.metricsPort}`) }] }],
      },
      rules: { 'facefleet.rules.yml': testRules() },
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await alertmanager?.stop();
    await webhook?.close();
    for (const w of workers) await w.lifecycle.close();
    await queue?.close();
    await connection?.quit().catch(() => connection.disconnect());
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('Prometheus scrapes both workers and loads every rule', async () => {
    await pollUntil(async () => JSON.stringify(await prometheus.targets()), async () => {
      const targets = await prometheus.targets();
      return targets.length === 2 && targets.every((t) => t.health === 'up') ? true : undefined;
    }, 60_000, 500);
    const rules = await fetch(`${prometheus.url}/api/v1/rules`).then((r) => r.json()) as { data: { groups: Array<{ rules: unknown[] }> } };
    const loaded = rules.data.groups.reduce((n, g) => n + g.rules.length, 0);
    expect(loaded).toBe(readRuleGroups().reduce((n, g) => n + g.rules.length, 0));
  });

  it('fires FacefleetQueueBacklogHigh through Alertmanager while jobs wait and nobody consumes', async () => {
    const report = await enqueueRun(queue, connection, runs, fromPrefix(new StoreRegistry({}), `file://${fixturesRoot()}/`), {
      runId: 'alerts-e2e',
      results: `file://${tmp}/results`,
      model: 'retinaface',
    });
    expect(report.enqueued).toBe(fixtures.length);
    expect(fixtures.length).toBeGreaterThan(TEST_BACKLOG_THRESHOLD);

    const firing = await pollUntil(state, async () => notificationsFor('firing')[0], 120_000, 500);
    const alert = firing.alerts.find((a) => a.labels.alertname === ALERT)!;
    expect(alert.labels).toMatchObject({ alertname: ALERT, queue: queueName, severity: 'warning' });
    expect(alert.annotations.summary).toBe(`Queue ${queueName} has ${fixtures.length} jobs waiting`);
    expect(alert.annotations.runbook_url).toBe(`docs/runbooks/${ALERT}.md`);
    // Nothing was processed: the paused queue still holds every job.
    expect(await queue.getJobCounts('waiting', 'active', 'completed', 'failed')).toEqual({ waiting: fixtures.length, active: 0, completed: 0, failed: 0 });
  });

  it('resolves once the workers drain the queue', async () => {
    await queue.resume();
    await pollUntil(async () => JSON.stringify(await runs.get('alerts-e2e')), async () => {
      const s = await runs.get('alerts-e2e');
      return s && isRunFinished(s) ? s : undefined;
    }, 120_000, 500);
    const resolved = await pollUntil(state, async () => notificationsFor('resolved')[0], 120_000, 500);
    expect(resolved.alerts.find((a) => a.labels.alertname === ALERT)?.status).toBe('resolved');
    expect((await prometheus.alerts()).filter((a) => a.labels.alertname === ALERT)).toEqual([]);
    // Prometheus saw every image finish (summed over both workers), and no worker was ever reported down.
    await pollUntil(state, async () => {
      const total = await prometheus.query(`sum(facefleet_images_processed_total{queue="${queueName}"})`);
      return Number(total[0]?.value[1]) === fixtures.length ? true : undefined;
    }, 30_000, 500);
    expect(webhook.notifications.filter((n) => n.commonLabels.alertname === 'FacefleetWorkerDown')).toEqual([]);
  });
});
