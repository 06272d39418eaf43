import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allPanels, dashboardExpressions, readDashboard, selectors, withoutGrafanaVariables } from '../support/promql';
import { onPath, promtool, readRuleGroups, writeRuleGroups } from '../../tools/harness/prometheus';
import { describeWith } from '../support/prerequisites';

const dashboard = readDashboard();
const expressions = dashboardExpressions(dashboard);

/** Panels an SRE needs on the dashboard, by a word of their title. */
const REQUIRED_PANELS = [
  /queue depth by state/i,
  /oldest waiting job/i,
  /drain estimate/i,
  /throughput/i,
  /failure ratio/i,
  /failures by code/i,
  /stage time per batch, p50/i,
  /stage time per batch, p95/i,
  /batch size/i,
  /faces per image/i,
  /confidence distribution/i,
  /workers up/i,
  /cpu per worker/i,
  /memory per worker/i,
  /event-loop lag per worker/i,
  /busy share/i,
];

describe('dashboards/facefleet.json', () => {
  it('has the documented panels', () => {
    const titles = allPanels(dashboard).map((p) => p.title ?? '');
    for (const wanted of REQUIRED_PANELS) expect(titles.filter((t) => wanted.test(t))).not.toEqual([]);
  });

  it('has $queue and $model variables, and every queue or model metric is filtered by them', () => {
    const names = dashboard.templating.list.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['datasource', 'queue', 'model']));
    const unfiltered: string[] = [];
    for (const { where, expr } of expressions.filter((e) => e.where.startsWith('panel'))) {
      if (/facefleet_(queue_|images_processed|job_)/.test(expr) && !expr.includes('$queue')) unfiltered.push(`${where}: $queue`);
      if (/facefleet_(images_processed|faces|face_|batch_|model_load)/.test(expr) && !expr.includes('$model')) unfiltered.push(`${where}: $model`);
    }
    expect(unfiltered).toEqual([]);
  });

  it('uses only facefleet metrics, the standard process and Node.js metrics, and the scrape health', () => {
    const names = new Set(expressions.flatMap((e) => selectors(e.expr).map((s) => s.name)));
    expect([...names].filter((n) => n !== 'up' && !/^(facefleet|process|nodejs)_/.test(n))).toEqual([]);
  });

  it("joins every standard process or Node.js metric with facefleet_worker_info, so that other jobs' series stay out", () => {
    const standard = expressions.filter((e) => selectors(e.expr).some((s) => /^(process|nodejs)_/.test(s.name)));
    expect(standard.length).toBeGreaterThan(0);
    for (const e of standard) expect(e.expr).toMatch(/facefleet_worker_info/);
  });

  it('keeps every panel id unique and every panel on the prometheus datasource variable', () => {
    const panels = allPanels(dashboard) as Array<{ id: number; type: string; datasource?: { uid: string } }>;
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(panels.filter((p) => p.type !== 'row' && p.datasource?.uid !== '${datasource}').map((p) => p.id)).toEqual([]);
  });
});

describeWith({ name: 'promtool', available: Boolean(onPath('promtool')), install: 'Debian: apt-get install prometheus' }, 'dashboard expressions', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-dash-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('all parse (wrapped as recording rules, promtool check rules)', () => {
    const file = path.join(dir, 'dashboard.rules.yml');
    writeRuleGroups(file, [{ name: 'dashboard', rules: expressions.map((e, i) => ({ record: `dashboard:expr:${i}`, expr: withoutGrafanaVariables(e.expr) })) }]);
    const res = promtool(['check', 'rules', file]);
    if (res.status !== 0) throw new Error(`${res.stdout}${res.stderr}\n${expressions.map((e, i) => `${i}: ${e.where}: ${e.expr}`).join('\n')}`);
    expect(res.stdout).toContain(`SUCCESS: ${expressions.length} rules found`);
  });

  it('the wrapping does catch a broken expression', () => {
    const file = path.join(dir, 'broken.rules.yml');
    writeRuleGroups(file, [{ name: 'dashboard', rules: [{ record: 'dashboard:expr:0', expr: withoutGrafanaVariables('sum(rate(facefleet_images_processed_total{queue=~"$queue"}[$__rate_interval])') }] }]);
    expect(promtool(['check', 'rules', file]).status).not.toBe(0);
  });
});

describe('the PromQL scanner the metric cross-check relies on', () => {
  it('finds metric names and matcher labels, not functions, keywords or grouping labels', () => {
    expect(selectors('histogram_quantile(0.95, sum by (stage, le) (rate(facefleet_batch_stage_duration_seconds_bucket{model=~"$model"}[$__rate_interval])))')).toEqual([
      { name: 'facefleet_batch_stage_duration_seconds_bucket', labels: ['model'] },
    ]);
    expect(selectors('rate(a_total[5m]) * on (job, instance) group_left () b_info{model=~"x|y"} > 1e9 unless on () (count(up{job=~"f.*"} == 1) > 0)')).toEqual([
      { name: 'a_total', labels: [] },
      { name: 'b_info', labels: ['model'] },
      { name: 'up', labels: ['job'] },
    ]);
    expect(selectors('queue:facefleet_queue_backlog:max > scalar(facefleet:config:backlog_threshold)').map((s) => s.name)).toEqual([
      'queue:facefleet_queue_backlog:max',
      'facefleet:config:backlog_threshold',
    ]);
  });

  it('finds every metric of the rule file', () => {
    const names = readRuleGroups().flatMap((g) => g.rules.flatMap((r) => selectors(r.expr).map((s) => s.name)));
    expect(names).toEqual(expect.arrayContaining(['up', 'facefleet_queue_jobs', 'process_resident_memory_bytes', 'facefleet_batch_stage_duration_seconds_bucket']));
    expect(names.filter((n) => !/^(up|facefleet_\w+|process_cpu_seconds_total|process_resident_memory_bytes|[a-z_]+:[a-z_0-9:]+)$/.test(n))).toEqual([]);
  });
});
