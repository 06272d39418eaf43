import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../../src/models/registry';

/** The Grafana dashboard the Helm chart packages. */
export const DASHBOARD_FILE = path.join(findRepoRoot(), 'dashboards', 'facefleet.json');

/** A metric selector found in an expression: the metric name and the label names it matches on. */
export interface Selector {
  name: string;
  labels: string[];
}

/** One expression of the dashboard, with where it is. */
export interface DashboardExpression {
  where: string;
  /** As written, with Grafana variables. */
  expr: string;
}

interface Panel {
  title?: string;
  panels?: Panel[];
  targets?: Array<{ expr?: string; refId?: string }>;
}

/** Reads the dashboard JSON. */
export function readDashboard(file: string = DASHBOARD_FILE): { panels: Panel[]; templating: { list: Array<{ name: string; type: string; query?: unknown }> } } {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Every panel, rows' children included. */
export function allPanels(dashboard: { panels: Panel[] }): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * Every PromQL expression of the dashboard: panel targets, and the metric of each `label_values`
 * variable query.
 */
export function dashboardExpressions(dashboard = readDashboard()): DashboardExpression[] {
  const out: DashboardExpression[] = [];
  for (const p of allPanels(dashboard)) {
    for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
    const m = /^label_values\((.+),\s*[a-zA-Z_]\w*\)$/.exec(q);
    if (!m) throw new Error(`variable ${v.name}: unsupported query ${q}`);
    out.push({ where: `variable $${v.name}`, expr: m[1] });
  }
  return out;
}

/** Replaces Grafana's variables and macros with values Prometheus accepts. */
export function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{(\w+)(:\w+)?\}/g, '.*')
    .replace(/\$(\w+)/g, '.*');
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric selectors of a PromQL expression (metric names and the label names of their matchers).
 * A small scanner, not a parser: enough for the project's own rules and dashboard, whose grammar
 * `promtool check rules` verifies separately.
 */
export function selectors(expr: string): Selector[] {
  const src = withoutGrafanaVariables(expr);
  const found: Selector[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(src, i);
      continue;
    }
    if (c === '[') {
      i = src.indexOf(']', i) + 1;
      continue;
    }
    if (c === '{') {
      // A bare matcher list ({__name__="x"}) is not used here.
      i = src.indexOf('}', i) + 1;
      continue;
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(src.slice(i));
    if (!ident || (i > 0 && /[0-9.]/.test(src[i - 1]))) {
      i++;
      continue;
    }
    const name = ident[0];
    i += name.length;
    let j = i;
    while (src[j] === ' ' || src[j] === '\n') j++;
    if (KEYWORDS.has(name.toLowerCase())) {
      // The label list of by/without/on/ignoring/group_left/group_right holds no metric names.
      if (src[j] === '(') i = src.indexOf(')', j) + 1;
      continue;
    }
    // A function call, or an aggregation written `sum by (…) (…)`.
    if (src[j] === '(' || /^(by|without)\b/.test(src.slice(j))) continue;
    const labels: string[] = [];
    if (src[j] === '{') {
      const end = matcherEnd(src, j);
      for (const m of src.slice(j + 1, end).matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/g)) labels.push(m[1]);
      i = end + 1;
    }
    found.push({ name, labels });
  }
  return found;
}

/** Label names listed after `by`, `without`, `on`, `ignoring` (grouping labels an expression relies on). */
export function groupingLabels(expr: string): string[] {
  const src = withoutGrafanaVariables(expr);
  return [...src.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean));
}

function skipString(src: string, start: number): number {
  const quote = src[start];
  let i = start + 1;
  while (i < src.length && src[i] !== quote) i += src[i] === '\\' ? 2 : 1;
  return i + 1;
}

function matcherEnd(src: string, open: number): number {
  let i = open + 1;
  while (i < src.length && src[i] !== '}') i = src[i] === '"' || src[i] === "'" ? skipString(src, i) : i + 1;
  return i;
}

/** One metric family of a Prometheus text exposition: its type and every sample's name and labels. */
export interface ExposedFamily {
  type: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

/** Parses the text exposition format into families by name. */
export function parseExposition(text: string): Map<string, ExposedFamily> {
  const families = new Map<string, ExposedFamily>();
  const sampleNames = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      families.set(type[1], { type: type[2], samples: [] });
      const suffixes = type[2] === 'histogram' ? ['_bucket', '_sum', '_count'] : type[2] === 'summary' ? ['', '_sum', '_count'] : [''];
      for (const s of suffixes) sampleNames.set(type[1] + s, type[1]);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const family = families.get(sampleNames.get(m[1]) ?? m[1]);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    family?.samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return families;
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(families: Map<string, ExposedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    const hit = f.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    if (hit) return hit.value;
  }
  return undefined;
}
