import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { findRepoRoot } from '../../src/models/registry';
import { onPath, promtool, readRuleGroups, RULE_TESTS_DIR, RULES_FILE } from '../../tools/harness/prometheus';
import { describeWith } from '../support/prerequisites';

/** The alerts the fleet ships, each with a runbook in docs/runbooks/; the rule file may add more, never fewer. */
const REQUIRED_ALERTS = [
  'FacefleetWorkerDown',
  'FacefleetNoWorkers',
  'FacefleetQueueBacklogHigh',
  'FacefleetDrainTimeTooLong',
  'FacefleetNoProgress',
  'FacefleetOldestJobTooOld',
  'FacefleetHighFailureRatio',
  'FacefleetSlowBatches',
  'FacefleetHighCPU',
  'FacefleetHighMemory',
  'FacefleetFailedJobsGrowing',
];

const RUNBOOKS = path.join(findRepoRoot(), 'docs', 'runbooks');
const alerts = readRuleGroups().flatMap((g) => g.rules.filter((r) => r.alert));
const testFiles = fs.readdirSync(RULE_TESTS_DIR).filter((f) => f.endsWith('.yml')).sort();

interface AlertCase {
  alertname: string;
  exp_alerts?: unknown[];
}

/** Alert names with a case expecting them to fire, and with a case expecting silence. */
function coverage(): { firing: Set<string>; quiet: Set<string> } {
  const firing = new Set<string>();
  const quiet = new Set<string>();
  for (const file of testFiles) {
    const doc = YAML.parse(fs.readFileSync(path.join(RULE_TESTS_DIR, file), 'utf8')) as { tests: Array<{ alert_rule_test?: AlertCase[] }> };
    for (const test of doc.tests) {
      for (const c of test.alert_rule_test ?? []) (c.exp_alerts?.length ? firing : quiet).add(c.alertname);
    }
  }
  return { firing, quiet };
}

describe('prometheus-rules', () => {
  it('has every documented alert, each once', () => {
    const names = alerts.map((a) => a.alert);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    for (const name of REQUIRED_ALERTS) expect(names).toContain(name);
  });

  it.each(alerts.map((a) => [a.alert as string, a] as const))('%s has a severity, summary, description and an existing runbook', (name, rule) => {
    expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary?.trim()).toBeTruthy();
    expect(rule.annotations?.description?.trim()).toBeTruthy();
    expect(rule.annotations?.runbook_url).toBe(`docs/runbooks/${name}.md`);
    const runbook = fs.readFileSync(path.join(RUNBOOKS, `${name}.md`), 'utf8');
    expect(runbook.split('\n')[0]).toBe(`# ${name}`);
  });

  it('has no runbook without an alert', () => {
    const pages = fs.readdirSync(RUNBOOKS).filter((f) => f.endsWith('.md') && f !== 'README.md').map((f) => f.replace(/\.md$/, ''));
    expect(pages.sort()).toEqual(alerts.map((a) => a.alert).sort());
  });

  it('tests every alert both firing and staying quiet', () => {
    const { firing, quiet } = coverage();
    const names = alerts.map((a) => a.alert as string);
    expect(names.filter((n) => !firing.has(n))).toEqual([]);
    expect(names.filter((n) => !quiet.has(n))).toEqual([]);
  });
});

describeWith({ name: 'promtool', available: Boolean(onPath('promtool')), install: 'Debian: apt-get install prometheus' }, 'promtool', () => {
  it('accepts the rule file (promtool check rules)', () => {
    const res = promtool(['check', 'rules', RULES_FILE]);
    expect(`${res.stdout}${res.stderr}`).toContain('SUCCESS');
    expect(res.status).toBe(0);
  });

  it('passes the unit tests in prometheus-rules/tests (promtool test rules)', () => {
    const res = promtool(['test', 'rules', ...testFiles], RULE_TESTS_DIR);
    if (res.status !== 0) throw new Error(`promtool test rules failed:\n${res.stdout}${res.stderr}`);
    expect(res.stdout.match(/SUCCESS/g)?.length).toBe(testFiles.length);
  });

  it('rejects a broken rule (the check is real)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-rules-'));
    try {
      const bad = path.join(dir, 'bad.yml');
      fs.writeFileSync(bad, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum by (queue (up)\n');
      expect(promtool(['check', 'rules', bad]).status).not.toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
