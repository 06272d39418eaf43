import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { findRepoRoot } from '../../src/models/registry';

/** The chart under test. */
export const CHART_DIR = path.join(findRepoRoot(), 'charts', 'facefleet');

/**
 * The Kubernetes version the chart is rendered for. A `go install`-ed helm has no build-time version
 * stamp and assumes Kubernetes v1.20, below the chart's `kubeVersion`; a real cluster reports its own.
 */
export const KUBE_VERSION = '1.31.0';

/** One rendered Kubernetes object. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // Each test reads the fields it checks.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

/** One `ci/<name>-values.yaml` scenario of the chart. */
export interface Scenario {
  name: string;
  file: string;
}

/** The chart's values scenarios, by name (`default`, `gpu`, …). */
export function chartScenarios(): Scenario[] {
  const dir = path.join(CHART_DIR, 'ci');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => ({ name: f.replace(/-values\.yaml$/, ''), file: path.join(dir, f) }));
}

/**
 * The helm binary: `HELM` when set, else `helm` on PATH, else the one scripts/install-tools.sh builds
 * into `${FACEFLEET_TOOLS:-~/.cache/facefleet-tools}/bin`; undefined when there is none.
 */
export function findHelm(): string | undefined {
  const candidates = [
    process.env.HELM,
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'helm')),
    path.join(process.env.FACEFLEET_TOOLS ?? path.join(os.homedir(), '.cache', 'facefleet-tools'), 'bin', 'helm'),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs helm with `args`; throws when there is no helm binary. */
export function helm(args: string[]): SpawnSyncReturns<string> {
  const bin = findHelm();
  if (!bin) throw new Error('helm is not installed: scripts/install-tools.sh builds it');
  return spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HELM_CACHE_HOME: path.join(os.tmpdir(), 'facefleet-helm-cache') } });
}

/** How to render the chart: values files, `--set` pairs, release and namespace. */
export interface RenderOptions {
  valuesFiles?: string[];
  set?: Record<string, string | number | boolean>;
  release?: string;
  namespace?: string;
}

/**
 * `-f` arguments: the values files, then `set` written as one more values file (dotted keys become
 * nested maps), which keeps strings such as `{ff}` out of `--set`'s list syntax.
 */
function valueArgs(options: RenderOptions): string[] {
  const args: string[] = [];
  for (const f of options.valuesFiles ?? []) args.push('-f', f);
  if (options.set && Object.keys(options.set).length) {
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options.set)) {
      const parts = key.split('.');
      let node = values;
      for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
      node[parts[parts.length - 1]] = value;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-values-'));
    const file = path.join(dir, 'values.yaml');
    fs.writeFileSync(file, YAML.stringify(values));
    args.push('-f', file);
  }
  return args;
}

/** `helm lint --strict` of the chart with these values. */
export function lintChart(options: RenderOptions = {}): SpawnSyncReturns<string> {
  return helm(['lint', '--strict', CHART_DIR, '--kube-version', KUBE_VERSION, '--namespace', options.namespace ?? 'facefleet', ...valueArgs(options)]);
}

/** `helm template` output as text, or the failed run (status and stderr). */
export function templateChart(options: RenderOptions = {}): SpawnSyncReturns<string> {
  return helm([
    'template',
    options.release ?? 'ff',
    CHART_DIR,
    '--kube-version',
    KUBE_VERSION,
    '--namespace',
    options.namespace ?? 'facefleet',
    ...valueArgs(options),
  ]);
}

/** Renders the chart and parses every object; throws with helm's message when rendering fails. */
export function renderChart(options: RenderOptions = {}): K8sObject[] {
  const run = templateChart(options);
  if (run.status !== 0) throw new Error(`helm template failed (${run.status}):\n${run.stderr}`);
  return parseManifests(run.stdout);
}

/** Parses a multi-document manifest stream, dropping empty documents; duplicate keys are errors. */
export function parseManifests(text: string): K8sObject[] {
  return YAML.parseAllDocuments(text, { uniqueKeys: true })
    .map((doc) => {
      if (doc.errors.length) throw new Error(`invalid YAML in the rendered chart: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** The one object of `kind` (and `name`, when given); throws when there is not exactly one. */
export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0];
}

/** A schema finding for one rendered object. */
export interface SchemaIssue {
  kind: string;
  name: string;
  message: string;
}

/*
 * Runs in a plain Node process: the @kubernetes-models packages are ES modules, which Jest's CommonJS
 * sandbox cannot import. Each object is validated by the model of its apiVersion and kind (the core
 * API, prometheus-operator and KEDA CRDs), with the validators those packages generate from the
 * OpenAPI and CRD schemas.
 */
const VALIDATOR = `
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const modules = {
  'monitoring.coreos.com': (v) => '@kubernetes-models/prometheus-operator/monitoring.coreos.com/' + v,
  'keda.sh': (v) => '@kubernetes-models/keda/keda.sh/' + v,
};
const issues = [];
for (const o of objects) {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const spec = modules[group] ? modules[group](version) : 'kubernetes-models/' + (group ? group + '/' : '') + version;
  let Model;
  try {
    Model = (await import(spec))[o.kind];
  } catch (err) {
    issues.push({ kind: o.kind, name: o.metadata?.name, message: 'no schema module ' + spec + ': ' + err.message });
    continue;
  }
  if (!Model) {
    issues.push({ kind: o.kind, name: o.metadata?.name, message: 'no schema for ' + o.apiVersion + ' ' + o.kind });
    continue;
  }
  try {
    new Model(o).validate();
  } catch (err) {
    const details = (err.errors ?? []).map((e) => (e.instancePath || '/') + ' ' + e.message);
    issues.push({ kind: o.kind, name: o.metadata?.name, message: details.length ? details.join('; ') : err.message });
  }
}
process.stdout.write(JSON.stringify(issues));
`;

/** Validates rendered objects against the Kubernetes and CRD schemas; returns the findings (none when valid). */
export function validateObjects(objects: K8sObject[]): SchemaIssue[] {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', VALIDATOR], {
    cwd: findRepoRoot(),
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`schema validation did not run (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as SchemaIssue[];
}

/** The source of a container environment entry that is not a literal value. */
export interface EnvSources {
  /** Secret values by `<secret>/<key>`. */
  secrets?: Record<string, string>;
  /** Pod fields by path (`metadata.name`). */
  fields?: Record<string, string>;
}

/**
 * The environment a container gets, as the kubelet builds it: literal values, secret and field
 * references resolved from `sources`, and `$(NAME)` references to earlier entries expanded. A
 * reference with no source stays unresolved as `<secret/key>`.
 */
export function containerEnv(container: { env?: Array<Record<string, unknown>> }, sources: EnvSources = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    const name = String(entry.name);
    const from = entry.valueFrom as { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } | undefined;
    if (from?.secretKeyRef) {
      const ref = `${from.secretKeyRef.name}/${from.secretKeyRef.key}`;
      env[name] = sources.secrets?.[ref] ?? `<${ref}>`;
    } else if (from?.fieldRef) {
      env[name] = sources.fields?.[from.fieldRef.fieldPath] ?? `<${from.fieldRef.fieldPath}>`;
    } else {
      env[name] = String(entry.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, ref1: string) => env[ref1] ?? ref);
    }
  }
  return env;
}
