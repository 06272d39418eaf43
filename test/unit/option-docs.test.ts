import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { chartConfigSchema, README_TABLES, renderOptionTable, renderReadme } from '../../src/config/option-docs';
import type { OptionSpec } from '../../src/config/option-spec';
import { loadWorkerConfig, WORKER_OPTIONS } from '../../src/config/worker-config';
import { findRepoRoot } from '../../src/models/registry';

const ROOT = findRepoRoot();
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const CHART = path.join(ROOT, 'charts', 'facefleet');
// Plain-JS scripts outside the TypeScript tree; their paths are the same from test/ and from dist/test/.
const { renderedReadme } = require(path.join(ROOT, 'scripts', 'gen-option-docs.js')) as { renderedReadme: () => string };

describe('README option tables', () => {
  it('are committed as generated from the option tables (node scripts/gen-option-docs.js)', () => {
    expect(README).toBe(renderReadme(README));
    expect(renderedReadme()).toBe(README);
  });

  it('would be rewritten on any drift: an edited row, a missing option, or a lost marker', () => {
    const edited = README.replace('| `FACEFLEET_MAX_WAIT_MS` | `10` ms |', '| `FACEFLEET_MAX_WAIT_MS` | `16` ms |');
    expect(edited).not.toBe(README);
    expect(renderReadme(edited)).toBe(README);
    const dropped = README.replace(/^\| `--canvas <px>`.*\n/m, '');
    expect(dropped).not.toBe(README);
    expect(renderReadme(dropped)).toBe(README);
    expect(() => renderReadme(README.replace('<!-- /options: serve -->', ''))).toThrow(/serve/);
  });

  it('list each option of the table with its flag, variable and default', () => {
    const worker = renderOptionTable(README_TABLES.worker);
    for (const info of Object.values(WORKER_OPTIONS)) expect(worker).toContain(`| \`${info.flag}\` | \`${info.env}\` |`);
    expect(worker).toContain('| `--drain-timeout-ms <ms>` | `FACEFLEET_DRAIN_TIMEOUT_MS` | `25000` ms |');
    expect(renderOptionTable(README_TABLES.serve)).toContain('| (environment only) | `FACEFLEET_API_TOKEN` |');
  });
});

describe("the chart's values.schema.json config block", () => {
  const committed = JSON.parse(fs.readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as { properties: { config: { properties: Record<string, unknown>; required: string[] } } };
  const values = YAML.parse(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as { config: Record<string, unknown> };
  const generated = chartConfigSchema() as { properties: Record<string, Record<string, unknown>>; required: string[] };

  it('is committed as generated from WORKER_OPTIONS (node scripts/gen-schemas.js)', () => {
    expect(committed.properties.config).toEqual(generated);
  });

  it('has a property for every worker option the chart sets, under its chart key, named by its variable', () => {
    for (const spec of Object.values(WORKER_OPTIONS) as OptionSpec[]) {
      if (!spec.chart) continue;
      expect(generated.properties[spec.chart.key]).toMatchObject({ description: expect.stringMatching(new RegExp(`^${spec.env}: `)) });
    }
    expect(generated.properties.inferenceThreads).toMatchObject({ type: ['integer', 'null'], minimum: 0, maximum: 256 });
    expect(generated.required).not.toContain('inferenceThreads');
    expect(generated.properties.forceIncremental).toMatchObject({ type: 'boolean' });
    expect(generated.properties.maxTiles).toMatchObject({ type: ['integer', 'null'] });
    expect(generated.properties.batch).toMatchObject({ type: ['integer', 'null'], minimum: 1 });
    expect(generated.required).not.toContain('batch');
    expect(generated.properties.fileRoots).toMatchObject({ pattern: '^(\\/[^,]*(,\\/[^,]*)*)?$' });
  });

  it("matches values.yaml: the same keys, and defaults equal to the worker's own", () => {
    expect(Object.keys(values.config).sort()).toEqual(Object.keys(generated.properties).sort());
    const defaults = loadWorkerConfig({}, {}) as unknown as Record<string, unknown>;
    for (const [key, spec] of Object.entries(WORKER_OPTIONS) as Array<[string, OptionSpec]>) {
      if (!spec.chart || spec.default === undefined || typeof spec.default === 'function') continue;
      const inChart = values.config[spec.chart.key];
      // null: the chart leaves the variable out (a default derived at start, such as the GPU batch).
      const parsed = loadWorkerConfig({}, inChart === null ? {} : { [spec.env!]: String(inChart) }) as unknown as Record<string, unknown>;
      if (inChart === null) expect({ key, derived: spec.derive !== undefined }).toEqual({ key, derived: true });
      expect({ key, value: parsed[key] }).toEqual({ key, value: defaults[key] });
    }
  });
});
