import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

/**
 * The folders of `src/` and the folders each may import from. The low layers (errors, detectors,
 * imaging, inference) know nothing of the ones that use them; the commands (`cli`) sit on top. Nothing
 * in `src/` imports the tooling (`tools/`) or the tests. A new dependency is a decision: add it here,
 * in the direction of the layers.
 */
const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  // Facts about the machine and the container (usable cores).
  host: [],
  detectors: ['errors'],
  imaging: ['detectors', 'errors'],
  inference: ['errors'],
  storage: ['errors'],
  telemetry: ['errors'],
  lifecycle: ['errors', 'host', 'telemetry'],
  models: ['detectors', 'errors'],
  engine: ['detectors', 'errors', 'host', 'imaging', 'inference', 'models', 'telemetry'],
  queue: ['detectors', 'errors', 'lifecycle', 'telemetry'],
  progress: ['queue'],
  config: ['errors', 'host', 'queue', 'storage', 'telemetry'],
  producer: ['errors', 'queue', 'storage'],
  eval: ['detectors', 'errors', 'storage'],
  worker: ['config', 'detectors', 'engine', 'errors', 'imaging', 'inference', 'lifecycle', 'models', 'queue', 'storage', 'telemetry'],
  serve: ['config', 'detectors', 'engine', 'errors', 'imaging', 'lifecycle', 'models', 'producer', 'queue', 'storage', 'telemetry', 'worker'],
  demo: ['config', 'engine', 'errors', 'imaging', 'lifecycle', 'models', 'producer', 'progress', 'queue', 'storage', 'telemetry', 'worker'],
  cli: ['config', 'demo', 'detectors', 'engine', 'errors', 'eval', 'imaging', 'inference', 'lifecycle', 'models', 'producer', 'progress', 'queue', 'serve', 'storage', 'telemetry', 'worker'],
  console: [],
};

/**
 * `{ from, to, file }` for every relative import of a TypeScript file under src/ that leaves its
 * folder: `from` and `to` are top folders of src/, or `outside` for anything beyond src/.
 */
function crossFolderImports(): Array<{ from: string; to: string; file: string }> {
  const out: Array<{ from: string; to: string; file: string }> = [];
  for (const folder of fs.readdirSync(SRC)) {
    const dir = path.join(SRC, folder);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
      if (!name.endsWith('.ts')) continue;
      const file = path.join(dir, name);
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.\.?\/[^']+)'/g)) {
        const target = path.relative(SRC, path.resolve(path.dirname(file), m[1]));
        const to = target.startsWith('..') ? 'outside' : target.split(path.sep)[0];
        if (to !== folder) out.push({ from: folder, to, file: `${folder}/${name}` });
      }
    }
  }
  return out;
}

describe('src/ layering', () => {
  const imports = crossFolderImports();

  it('finds the imports it checks', () => {
    expect(imports.length).toBeGreaterThan(100);
    expect(new Set(imports.map((i) => i.from)).size).toBeGreaterThanOrEqual(15);
  });

  it('has a rule for every folder', () => {
    const folders = fs.readdirSync(SRC).filter((f) => fs.statSync(path.join(SRC, f)).isDirectory());
    expect(folders.filter((f) => !(f in ALLOWED))).toEqual([]);
  });

  it('never imports the tooling or the tests', () => {
    expect(imports.filter((i) => i.to === 'outside').map((i) => i.file)).toEqual([]);
  });

  it('imports only in the direction of the layers', () => {
    const wrong = imports.filter((i) => !(ALLOWED[i.from] ?? []).includes(i.to)).map((i) => `${i.file} imports ../${i.to}`);
    expect(wrong).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const i of imports) (edges.get(i.from) ?? edges.set(i.from, new Set()).get(i.from)!).add(i.to);
    const cycles = new Set<string>();
    const state = new Map<string, 'open' | 'done'>();
    const visit = (node: string, trail: string[]): void => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.add([...trail.slice(trail.indexOf(node)), node].join(' → '));
        return;
      }
      state.set(node, 'open');
      for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const node of edges.keys()) visit(node, []);
    expect([...cycles]).toEqual([]);
  });

});
