import { enqueueRun } from '../../src/producer/enqueue-run';
import { fromPrefix } from '../../src/producer/key-sources';
import { StoreRegistry } from '../../src/storage/store-registry';
import { QUEUE_STATES, STAGES } from '../../src/telemetry/metrics';
import { ALL_ERROR_CODES } from '../../src/errors';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allFixtures, fixturesRoot } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { freePort } from '../../src/lifecycle/free-port';
import { readRuleGroups } from '../../tools/harness/prometheus';
import { pollUntil } from '../../tools/harness/poll';
import { dashboardExpressions, ExposedFamily, groupingLabels, parseExposition, sampleValue, selectors } from '../support/promql';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';

/** The metrics every worker must serve (README: Metrics and health): name → type and label names. */
const ISSUE_METRICS: Record<string, { type: string; labels: string[] }> = {
  facefleet_queue_jobs: { type: 'gauge', labels: ['queue', 'state'] },
  facefleet_queue_oldest_waiting_age_seconds: { type: 'gauge', labels: ['queue'] },
  facefleet_queue_drain_seconds_estimate: { type: 'gauge', labels: ['queue'] },
  facefleet_images_processed_total: { type: 'counter', labels: ['queue', 'model', 'outcome'] },
  facefleet_job_failures_total: { type: 'counter', labels: ['queue', 'code'] },
  facefleet_faces_detected_total: { type: 'counter', labels: ['model'] },
  facefleet_faces_per_image: { type: 'histogram', labels: ['model'] },
  facefleet_face_confidence: { type: 'histogram', labels: ['model'] },
  facefleet_batch_size: { type: 'histogram', labels: ['model'] },
  facefleet_batch_stage_duration_seconds: { type: 'histogram', labels: ['model', 'stage'] },
  facefleet_job_wait_seconds: { type: 'histogram', labels: ['queue'] },
  facefleet_job_duration_seconds: { type: 'histogram', labels: ['queue'] },
  facefleet_worker_active_jobs: { type: 'gauge', labels: [] },
  facefleet_worker_info: { type: 'gauge', labels: ['version', 'model', 'model_version', 'provider'] },
  facefleet_model_load_seconds: { type: 'gauge', labels: ['model'] },
  facefleet_inference_busy_seconds_total: { type: 'counter', labels: ['model'] },
  facefleet_decode_busy_seconds_total: { type: 'counter', labels: ['model'] },
  facefleet_decode_slots: { type: 'gauge', labels: ['model'] },
  facefleet_event_loop_busy_seconds_total: { type: 'counter', labels: [] },
};

/** Exported metrics that neither the rules nor the dashboard use, and why that is fine. */
const UNUSED_ON_PURPOSE: Record<string, string> = {
  process_cpu_user_seconds_total: 'the user/system split of process_cpu_seconds_total, which the dashboard and FacefleetHighCPU use',
  process_cpu_system_seconds_total: 'the user/system split of process_cpu_seconds_total, which the dashboard and FacefleetHighCPU use',
  process_virtual_memory_bytes: 'virtual size says nothing about memory pressure; resident memory is charted and alerted on',
  process_heap_bytes: 'part of resident memory, which is charted; for ad-hoc diagnosis',
  process_open_fds: 'descriptor leaks are diagnosed by hand; a worker holds a handful of connections',
  process_max_fds: 'the limit for process_open_fds, diagnosed by hand',
  process_start_time_seconds: 'restarts show as FacefleetWorkerDown and in up; kept for ad-hoc uptime queries',
  nodejs_eventloop_lag_seconds: 'the dashboard charts the p99 of the same measurement',
  nodejs_eventloop_lag_min_seconds: 'the dashboard charts the p99 of the same measurement',
  nodejs_eventloop_lag_max_seconds: 'the dashboard charts the p99 of the same measurement',
  nodejs_eventloop_lag_mean_seconds: 'the dashboard charts the p99 of the same measurement',
  nodejs_eventloop_lag_stddev_seconds: 'the dashboard charts the p99 of the same measurement',
  nodejs_eventloop_lag_p50_seconds: 'the dashboard charts the p99 of the same measurement',
  nodejs_eventloop_lag_p90_seconds: 'the dashboard charts the p99 of the same measurement',
  nodejs_active_handles: 'handle leaks are diagnosed by hand',
  nodejs_active_handles_total: 'handle leaks are diagnosed by hand',
  nodejs_active_requests: 'request leaks are diagnosed by hand',
  nodejs_active_requests_total: 'request leaks are diagnosed by hand',
  nodejs_active_resources: 'resource leaks are diagnosed by hand',
  nodejs_active_resources_total: 'resource leaks are diagnosed by hand',
  nodejs_heap_size_total_bytes: 'the dashboard charts heap used and resident memory',
  nodejs_heap_space_size_total_bytes: 'per-space detail of the heap, for ad-hoc diagnosis',
  nodejs_heap_space_size_used_bytes: 'per-space detail of the heap, for ad-hoc diagnosis',
  nodejs_heap_space_size_available_bytes: 'per-space detail of the heap, for ad-hoc diagnosis',
  nodejs_external_memory_bytes: 'part of resident memory (sharp and onnxruntime buffers), which is charted',
  nodejs_version_info: 'the Node version of each worker, for ad-hoc queries',
};

/** Labels Prometheus adds at scrape time. */
const TARGET_LABELS = ['job', 'instance'];

/**
 * A live worker's /metrics after it processed every fixture (faces, no faces, undecodable files),
 * cross-checked both ways with the metric names and labels that the rules and the dashboard use.
 */
describe('a live worker\'s /metrics', () => {
  let redis: PrivateRedis;
  let fleet: TestFleet;
  let tmp: string;
  let base: string;
  let families: Map<string, ExposedFamily>;
  const fixtures = allFixtures();

  beforeAll(async () => {
    redis = await startRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-metrics-'));
    fleet = openFleet(redis.url, uniqueQueue('metrics'));
    const worker = await fleet.startWorker({ batch: 4, metricsHost: '127.0.0.1', metricsPort: await freePort() });
    base = `http://127.0.0.1:${worker.metricsPort}`;
    await enqueueRun(fleet.queue, fleet.redis, fleet.runs, fromPrefix(new StoreRegistry({}), `file://${fixturesRoot()}/`), {
      runId: 'metrics-live',
      results: `file://${tmp}/results`,
      model: 'retinaface',
    });
    await fleet.waitForRun('metrics-live');
    // The queue gauges refresh every 5 s: wait until they show the finished run.
    families = await pollUntil(
      () => 'facefleet_queue_jobs{state="completed"} stayed 0',
      async () => {
        const f = parseExposition(await (await fetch(`${base}/metrics`)).text());
        return (sampleValue(f, 'facefleet_queue_jobs', { state: 'completed' }) ?? 0) > 0 ? f : undefined;
      },
      30_000,
      500,
    );
  });

  afterAll(async () => {
    await fleet?.close();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  function value(name: string, labels: Record<string, string> = {}): number {
    const v = sampleValue(families, name, labels);
    if (v === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
    return v;
  }

  it('serves every documented metric with its type and label names', () => {
    for (const [name, want] of Object.entries(ISSUE_METRICS)) {
      const family = families.get(name);
      expect({ name, type: family?.type }).toEqual({ name, type: want.type });
      expect(family!.samples.length).toBeGreaterThan(0);
      for (const s of family!.samples) {
        expect({ name, labels: Object.keys(s.labels).filter((l) => l !== 'le').sort() }).toEqual({ name, labels: [...want.labels].sort() });
      }
    }
  });

  it('pre-creates bounded series: every queue state, outcome and failure code', () => {
    const labelValues = (name: string, label: string) => new Set(families.get(name)!.samples.map((s) => s.labels[label]));
    expect(labelValues('facefleet_queue_jobs', 'state')).toEqual(new Set(QUEUE_STATES));
    expect(labelValues('facefleet_images_processed_total', 'outcome')).toEqual(new Set(['success', 'failed', 'skipped']));
    expect(labelValues('facefleet_job_failures_total', 'code')).toEqual(new Set(ALL_ERROR_CODES));
    expect(labelValues('facefleet_batch_stage_duration_seconds', 'stage')).toEqual(new Set(STAGES));
  });

  it('counts what the worker did', () => {
    const q = fleet.queueName;
    const failed = fixtures.filter((f) => f.expectError).length;
    expect(value('facefleet_images_processed_total', { queue: q, model: 'retinaface', outcome: 'success' })).toBe(fixtures.length - failed);
    expect(value('facefleet_images_processed_total', { queue: q, model: 'retinaface', outcome: 'failed' })).toBe(failed);
    const failures = ALL_ERROR_CODES.reduce((n, code) => n + value('facefleet_job_failures_total', { queue: q, code }), 0);
    expect(failures).toBe(failed);
    expect(value('facefleet_faces_detected_total', { model: 'retinaface' })).toBeGreaterThan(0);
    expect(value('facefleet_faces_per_image_count', { model: 'retinaface' })).toBe(fixtures.length - failed);
    expect(value('facefleet_queue_jobs', { queue: q, state: 'completed' })).toBe(fixtures.length - failed);
    expect(value('facefleet_queue_jobs', { queue: q, state: 'failed' })).toBe(failed);
    expect(value('facefleet_queue_jobs', { queue: q, state: 'waiting' })).toBe(0);
    expect(value('facefleet_queue_drain_seconds_estimate', { queue: q })).toBe(0);
    expect(value('facefleet_worker_active_jobs')).toBe(0);
    expect(value('facefleet_model_load_seconds', { model: 'retinaface' })).toBeGreaterThan(0);
    // Busy time: the thread ran every batch, decodes held their slots, the event loop did the rest.
    expect(value('facefleet_inference_busy_seconds_total', { model: 'retinaface' })).toBeGreaterThan(0);
    expect(value('facefleet_decode_busy_seconds_total', { model: 'retinaface' })).toBeGreaterThan(0);
    expect(value('facefleet_decode_slots', { model: 'retinaface' })).toBe(os.availableParallelism());
    expect(value('facefleet_event_loop_busy_seconds_total')).toBeGreaterThan(0);
  });

  it('has every metric and label the rules and the dashboard use', () => {
    const groups = readRuleGroups();
    const recorded = new Set(groups.flatMap((g) => g.rules.map((r) => r.record).filter(Boolean)));
    const exprs = [
      ...groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.record ?? r.alert}`, expr: r.expr }))),
      ...dashboardExpressions(),
    ];
    const sampleLabels = new Map<string, Set<string>>();
    for (const f of families.values()) for (const s of f.samples) {
      const set = sampleLabels.get(s.name) ?? new Set<string>(TARGET_LABELS);
      Object.keys(s.labels).forEach((l) => set.add(l));
      sampleLabels.set(s.name, set);
    }
    const allLabels = new Set([...sampleLabels.values()].flatMap((s) => [...s]));
    const missing: string[] = [];
    for (const { where, expr } of exprs) {
      for (const sel of selectors(expr)) {
        if (recorded.has(sel.name)) continue;
        if (sel.name === 'up') {
          if (sel.labels.some((l) => !TARGET_LABELS.includes(l))) missing.push(`${where}: up{${sel.labels}}`);
          continue;
        }
        const labels = sampleLabels.get(sel.name);
        if (!labels) missing.push(`${where}: ${sel.name}`);
        else for (const l of sel.labels) if (!labels.has(l)) missing.push(`${where}: ${sel.name}{${l}}`);
      }
      for (const l of groupingLabels(expr)) if (!allLabels.has(l)) missing.push(`${where}: grouping label ${l}`);
    }
    expect(missing).toEqual([]);
  });

  it('exports nothing that the rules and the dashboard leave unused, unless it says why', () => {
    const used = new Set(
      [...readRuleGroups().flatMap((g) => g.rules.map((r) => r.expr)), ...dashboardExpressions().map((e) => e.expr)].flatMap((e) => selectors(e).map((s) => s.name)),
    );
    const unused = [...families.keys()].filter((name) => ![name, `${name}_bucket`, `${name}_sum`, `${name}_count`].some((n) => used.has(n)));
    expect(unused.filter((n) => !UNUSED_ON_PURPOSE[n]).sort()).toEqual([]);
    // The allow-list holds only metrics that exist and are unused.
    expect(Object.keys(UNUSED_ON_PURPOSE).filter((n) => families.has(n) && !unused.includes(n))).toEqual([]);
  });

  it('is live and ready while Redis answers, and not ready once Redis is gone', async () => {
    const health = await fetch(`${base}/healthz`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'ok' } });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    await redis.stop();
    const verdict = await pollUntil(
      () => 'readyz still 200 after Redis stopped',
      async () => {
        const res = await fetch(`${base}/readyz`);
        return res.status === 503 ? ((await res.json()) as { reason: string }) : undefined;
      },
      30_000,
      500,
    );
    expect(verdict.reason).toMatch(/redis/);
    // Back on the same port: the worker reconnects and is ready again (and can then close cleanly).
    redis = await startRedis({ port: redis.port });
    await pollUntil(() => 'readyz not 200 after Redis came back', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 60_000, 500);
  });
});
