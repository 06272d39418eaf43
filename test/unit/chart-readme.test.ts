import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CHART = path.join(ROOT, 'charts', 'facefleet');
const gen = require(path.join(ROOT, 'scripts', 'gen-chart-readme.js')) as {
  valueRows: (text: string) => Array<{ key: string; type: string; value: unknown; description: string }>;
  renderReadme: (readme: string, values: string) => string;
};

/** Every leaf of a plain object as a dotted path (lists and empty maps are leaves). */
function leaves(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [prefix.slice(0, -1)];
  return Object.entries(value).flatMap(([k, v]) => leaves(v, `${prefix}${k}.`));
}

describe('charts/facefleet/README.md', () => {
  const valuesYaml = fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8');
  const readme = fs.readFileSync(path.join(CHART, 'README.md'), 'utf8');

  it('holds the values table generated from values.yaml (run node scripts/gen-chart-readme.js)', () => {
    expect(gen.renderReadme(readme, valuesYaml)).toBe(readme);
  });

  it('has a row for every value, with its default', () => {
    const rows = gen.valueRows(valuesYaml).filter((r) => r.type !== 'block');
    const values = YAML.parse(valuesYaml) as Record<string, unknown>;
    expect(rows.map((r) => r.key).sort()).toEqual(leaves(values).sort());
    const byKey = new Map(rows.map((r) => [r.key, r]));
    expect(byKey.get('replicaCount')!.value).toBe(values.replicaCount);
    expect(byKey.get('config.model')).toMatchObject({ value: 'retinaface', description: expect.stringContaining('FACEFLEET_MODEL') });
  });

  it('describes every worker option of the config block', () => {
    const undescribed = gen.valueRows(valuesYaml).filter((r) => r.key.startsWith('config.') && r.description === '').map((r) => r.key);
    expect(undescribed).toEqual([]);
  });

  it('names its maintainers and home in Chart.yaml', () => {
    const chart = YAML.parse(fs.readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as { home?: string; maintainers?: Array<{ name: string }> };
    expect(chart.home).toMatch(/^https:\/\//);
    expect(chart.maintainers?.length).toBeGreaterThan(0);
  });
});
