import { z } from 'zod';
import { QUEUE_OPTIONS } from './common';
import { choicesOf, defaultLabel, longFlag, OptionInfo, OptionSpec } from './option-spec';
import { ENQUEUE_OWN_OPTIONS } from './producer-config';
import { SERVE_OWN_OPTIONS } from './serve-config';
import { WORKER_OPTIONS } from './worker-config';

/** A README option table: the options it lists, and a last row naming options listed elsewhere. */
export interface ReadmeTable {
  options: Readonly<Record<string, OptionInfo>>;
  /** First cell of a final "as for the worker" row. */
  alsoTakes?: string;
}

/** The README's option tables, by the name in their markers. */
export const README_TABLES: Readonly<Record<string, ReadmeTable>> = {
  worker: { options: WORKER_OPTIONS },
  enqueue: { options: ENQUEUE_OWN_OPTIONS, alsoTakes: Object.values(QUEUE_OPTIONS).map((o) => `\`${longFlag(o)}\``).join(', ') },
  serve: { options: SERVE_OWN_OPTIONS, alsoTakes: 'model, queue, limit and log options' },
};

/** `<!-- options: NAME … -->` … `<!-- /options: NAME -->` around each generated table. */
const BLOCK = /(<!-- options: ([a-z-]+) [^\n]*-->\n)[\s\S]*?(<!-- \/options: \2 -->)/g;

/** Markdown cell text: `|` escaped, and `<placeholders>` in code spans (markdown would take them for HTML). */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/(^|[\s(])([^\s`(]*<[^>`]+>[^\s`),;]*)/g, '$1`$2`');
}

/** The default column: a value in a code span (with its unit), on/off, or the default's text. */
function defaultCell(info: OptionInfo): string {
  if (info.defaultText !== undefined || typeof info.default === 'boolean') return cell(defaultLabel(info) ?? '');
  if (info.default === undefined || typeof info.default === 'function' || info.default === '') return '';
  return `\`${info.default}\`${info.unit ? ` ${info.unit}` : ''}`;
}

/** One markdown table of options: option, env, default, meaning. */
export function renderOptionTable(table: ReadmeTable): string {
  const rows = ['| option | env | default | meaning |', '|---|---|---|---|'];
  for (const info of Object.values(table.options)) {
    const choices = choicesOf(info);
    const meaning = info.doc ?? cell(choices ? `${info.help}: ${choices.join(', ')}` : info.help);
    rows.push(`| ${info.flag ? `\`${info.flag}\`` : '(environment only)'} | ${info.env ? `\`${info.env}\`` : ''} | ${defaultCell(info)} | ${meaning} |`);
  }
  if (table.alsoTakes) rows.push(`| ${table.alsoTakes} | as for the worker | | |`);
  return `${rows.join('\n')}\n`;
}

/**
 * The README with every generated table rendered afresh between its markers. Throws on a marker
 * naming no table, and when a table has no marker.
 */
export function renderReadme(readme: string): string {
  const seen = new Set<string>();
  const out = readme.replace(BLOCK, (_m, open: string, name: string, close: string) => {
    const table = README_TABLES[name];
    if (!table) throw new Error(`README: no option table named ${name}`);
    seen.add(name);
    return `${open}\n${renderOptionTable(table)}\n${close}`;
  });
  const missing = Object.keys(README_TABLES).filter((n) => !seen.has(n));
  if (missing.length > 0) throw new Error(`README: no markers for the option tables ${missing.join(', ')}`);
  return out;
}

/** Values under `config` the chart renders that are not options of the worker's CLI. */
const CHART_ONLY_CONFIG: Readonly<Record<string, Record<string, unknown>>> = {
  modelCache: { type: 'string', description: 'FACEFLEET_MODEL_CACHE: absolute path of the writable model cache (src/models/model-cache.ts)', pattern: '^/' },
};

/** A pattern that also accepts the empty string (the chart's "unset"). */
function orEmpty(pattern: string): string {
  return `^(${pattern.replace(/^\^/, '').replace(/\$$/, '')})?$`;
}

/** True when the chart may leave the option's variable out: no default, or one derived at start. */
function unsettable(spec: OptionSpec): boolean {
  return (spec.default === undefined && !spec.required) || spec.derive !== undefined;
}

/**
 * The JSON Schema of one chart value from its option: the zod schema's input side (limits, patterns,
 * enums), or the option's own chart schema. Options without a default, and those whose default is
 * derived from other options (`derive`: the batch on a GPU), are unset with `null` (numbers) or `""`
 * (strings), and the chart then leaves the variable out.
 */
function chartProperty(spec: OptionSpec): Record<string, unknown> {
  const chart = spec.chart!;
  let property: Record<string, unknown>;
  if (chart.schema) {
    property = { ...chart.schema };
  } else {
    const { $schema: _s, ...derived } = z.toJSONSchema(spec.schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    property = derived;
  }
  if (unsettable(spec)) {
    if (property.type === 'integer' || property.type === 'number') property.type = [property.type, 'null'];
    if (property.type === 'string') {
      delete property.minLength;
      if (typeof property.pattern === 'string') property.pattern = orEmpty(property.pattern);
    }
  }
  return { ...property, description: `${spec.env}: ${chart.description ?? spec.help}` };
}

/**
 * The `config` block of `charts/facefleet/values.schema.json`, generated from {@link WORKER_OPTIONS}:
 * every option with a `chart` key, at the worker's own limits, so helm refuses what the worker would.
 */
export function chartConfigSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const spec of Object.values(WORKER_OPTIONS) as OptionSpec[]) {
    if (!spec.chart) continue;
    properties[spec.chart.key] = chartProperty(spec);
    if (!unsettable(spec)) required.push(spec.chart.key);
  }
  Object.assign(properties, CHART_ONLY_CONFIG);
  return {
    $comment: 'generated by scripts/gen-schemas.js from WORKER_OPTIONS (src/config/worker-config.ts) — do not edit',
    type: 'object',
    additionalProperties: false,
    description: 'Worker options (README: facefleet worker); each becomes the environment variable of the same option',
    properties,
    required,
  };
}
