import { spawnSync } from 'node:child_process';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';
import { createRedis } from '../../src/queue/connection';
import { RunStore } from '../../src/queue/run-store';
import { openFleet, TestFleet } from '../support/fleet';
import { freePort } from '../../src/lifecycle/free-port';
import { containerEnv, findHelm, K8sObject, only, renderChart } from '../support/helm';
import { onPath, PrometheusServer, startPrometheus } from '../../tools/harness/prometheus';
import { pollUntil } from '../../tools/harness/poll';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { describeWith, itWith } from '../support/prerequisites';

/**
 * The chart's rendered objects against the real thing: the ScaledObject's queue-depth query against
 * the /metrics of live workers (and, where Debian's prometheus is installed, evaluated by a real
 * Prometheus scraping two of them), and the CronJob's enqueue command run as its container would run
 * it, against a real Redis.
 */
const NAMESPACE = 'facefleet-live';

/** The samples of one metric in Prometheus text format: labels and value. */
function samples(text: string, metric: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

/** The metric name and label matchers of the innermost selector of a PromQL query. */
function selectorOf(query: string): { metric: string; equal: Record<string, string>; regex: Record<string, string> } {
  const m = /([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/.exec(query);
  if (!m) throw new Error(`no selector in ${query}`);
  const equal: Record<string, string> = {};
  const regex: Record<string, string> = {};
  for (const matcher of m[2].matchAll(/(\w+)(=~|=)"([^"]*)"/g)) (matcher[2] === '=' ? equal : regex)[matcher[1]] = matcher[3];
  return { metric: m[1], equal, regex };
}

const HELM = { name: 'helm', available: Boolean(findHelm()), install: 'scripts/install-tools.sh builds it' };

describeWith(HELM, 'chart against live workers and Redis', () => {
  let redis: PrivateRedis;
  let conn: Redis;
  const fleets: TestFleet[] = [];
  let manual: Worker | undefined;
  let manualConn: Redis | undefined;
  let prometheus: PrometheusServer | undefined;
  let tmp: string;

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-helm-live-'));
  });

  afterAll(async () => {
    await prometheus?.stop();
    await manual?.close();
    await manualConn?.quit().catch(() => manualConn?.disconnect());
    for (const f of fleets) await f.close();
    await conn?.quit().catch(() => conn.disconnect());
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('the KEDA queue-depth query', () => {
    const queue = uniqueQueue('helm-depth');
    const ports: number[] = [];
    let expected = 0;
    let query = '';

    beforeAll(async () => {
      // Two workers on the queue that do not take jobs: each serves /metrics from its queue monitor.
      for (let i = 0; i < 2; i++) {
        const fleet = openFleet(redis.url, queue);
        fleets.push(fleet);
        const worker = await fleet.startWorker({ metricsPort: await freePort(), metricsHost: '127.0.0.1' });
        await worker.fleet.close();
        ports.push(worker.metricsPort!);
      }
      const q = fleets[0].queue;
      const data = { v: 1, source: 'file:///nowhere/a.jpg', results: 'file:///nowhere/out', runId: 'depth', model: 'retinaface' };
      await q.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'detect', data: { ...data, key: `w${i}.jpg` } })));
      await q.addBulk(Array.from({ length: 3 }, (_, i) => ({ name: 'detect', data: { ...data, key: `p${i}.jpg` }, opts: { priority: 1 } })));
      manualConn = createRedis(redis.url);
      manual = new Worker(queue, null, { connection: manualConn, prefix: 'bull', lockDuration: 600_000 });
      expect(await manual.getNextJob('helm-live')).toBeDefined();
      const counts = await q.getJobCounts('waiting', 'prioritized', 'active');
      expect(counts.active).toBe(1);
      expected = counts.waiting + counts.prioritized + counts.active;
      expect(expected).toBe(8);

      const objects: K8sObject[] = renderChart({ namespace: NAMESPACE, set: { 'config.queue': queue, 'autoscaling.keda.enabled': true } });
      query = only(objects, 'ScaledObject').spec.triggers[0].metadata.query;
    });

    it('selects the series and labels a live worker exports, and they add up to waiting + prioritized + active', async () => {
      const selector = selectorOf(query);
      expect(selector.equal).toEqual({ namespace: NAMESPACE, queue });
      const states = selector.regex.state.split('|').sort();
      expect(states).toEqual(['active', 'prioritized', 'waiting']);

      const text = await pollUntil(
        () => `no ${selector.metric}{queue="${queue}",state="active"} 1 on /metrics yet`,
        async () => {
          const body = await fetch(`http://127.0.0.1:${ports[0]}/metrics`).then((r) => r.text());
          const active = samples(body, selector.metric).find((s) => s.labels.queue === queue && s.labels.state === 'active');
          return active?.value === 1 ? body : undefined;
        },
        30_000,
        500,
      );
      expect(text).toContain(`# TYPE ${selector.metric} gauge`);
      const series = samples(text, selector.metric).filter((s) => s.labels.queue === queue && states.includes(s.labels.state));
      expect(series.map((s) => s.labels.state).sort()).toEqual(states);
      // Every label the query matches on is the worker's own, except namespace, which Prometheus adds.
      for (const label of [...Object.keys(selector.equal), 'state'].filter((l) => l !== 'namespace')) expect(series[0].labels).toHaveProperty(label);
      expect(series.reduce((sum, s) => sum + s.value, 0)).toBe(expected);
    });

    itWith({ name: 'prometheus', available: Boolean(onPath('prometheus')), install: 'Debian: apt-get install prometheus' }, 'evaluated by Prometheus over two workers, counts the queue once (max by state), not once per worker', async () => {
      prometheus = await startPrometheus({
        config: {
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          scrape_configs: [{ job_name: 'facefleet', static_configs: [{ targets: ports.map((p) => `127.0.0.1:${p}`), labels: { namespace: NAMESPACE } }] }],
        },
      });
      const prom = prometheus;
      const bothScraped = `count(facefleet_queue_jobs{queue="${queue}",state="active"} == 1)`;
      await pollUntil(async () => JSON.stringify(await prom.targets()), async () => ((await prom.query(bothScraped))[0]?.value[1] === '2' ? true : undefined), 60_000, 500);

      const result = await prom.query(query);
      expect(result.map((r) => Number(r.value[1]))).toEqual([expected]);
      const naive = await prom.query(query.replace('max by (state)', 'sum by (state)'));
      expect(naive.map((r) => Number(r.value[1]))).toEqual([2 * expected]);

      // With no worker series the strict query is empty (KEDA: an error, so the fallback), and the
      // scale-to-zero variant reads 0.
      const other = uniqueQueue('helm-none');
      const objects = renderChart({ namespace: NAMESPACE, set: { 'config.queue': other, 'autoscaling.keda.enabled': true } });
      expect(await prom.query(only(objects, 'ScaledObject').spec.triggers[0].metadata.query)).toEqual([]);
      const toZero = renderChart({ namespace: NAMESPACE, set: { 'config.queue': other, 'autoscaling.keda.enabled': true, 'autoscaling.keda.scaleToZero': true } });
      const zero = await prom.query(only(toZero, 'ScaledObject').spec.triggers[0].metadata.query);
      expect(zero.map((r) => Number(r.value[1]))).toEqual([0]);
    });
  });

  it("the CronJob's command enqueues the prefix as run nightly-<UTC date>, and a rerun the same day adds nothing", () => {
    const queue = uniqueQueue('helm-cron');
    const photos = path.join(tmp, 'photos');
    fs.mkdirSync(photos, { recursive: true });
    for (const name of ['a.jpg', 'b.jpg', 'c.png']) fs.writeFileSync(path.join(photos, name), Buffer.from(`not decoded: ${name}`));
    const objects = renderChart({
      set: {
        'redis.url': redis.url,
        'config.queue': queue,
        'producer.cronJob.enabled': true,
        'producer.cronJob.prefix': `file://${photos}/`,
        'producer.cronJob.results': `file://${tmp}/results`,
      },
    });
    const container = only(objects, 'CronJob').spec.jobTemplate.spec.template.spec.containers[0];

    // The image runs /app/bin/facefleet.js; here a `node` shim maps it onto this checkout.
    const shimDir = path.join(tmp, 'shim');
    fs.mkdirSync(shimDir, { recursive: true });
    const bin = path.join(findRepoRoot(), 'bin', 'facefleet.js');
    fs.writeFileSync(
      path.join(shimDir, 'node'),
      `#!/bin/sh\nif [ "$1" = /app/bin/facefleet.js ]; then shift; exec "${process.execPath}" "${bin}" "$@"; fi\nexec "${process.execPath}" "$@"\n`,
      { mode: 0o755 },
    );
    const env = { ...containerEnv(container), PATH: `${shimDir}:${process.env.PATH}`, HOME: tmp };
    const run = () => spawnSync(container.command[0], [...container.command.slice(1), ...container.args], { env, encoding: 'utf8', timeout: 120_000 });

    const first = run();
    expect({ status: first.status, stderr: first.status === 0 ? '' : first.stderr }).toEqual({ status: 0, stderr: '' });
    const runId = `nightly-${new Date().toISOString().slice(0, 10)}`;
    return (async () => {
      const runs = new RunStore(conn, { queue, prefix: 'bull' });
      expect(await runs.get(runId)).toMatchObject({ runId, total: 3, sealed: true, results: `file://${tmp}/results` });
      const second = run();
      expect(second.status).toBe(0);
      const check = openFleet(redis.url, queue);
      fleets.push(check);
      expect(await check.queue.getJobCounts('waiting')).toEqual({ waiting: 3 });
    })();
  });
});
