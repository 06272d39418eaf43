import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { findRepoRoot } from '../../src/models/registry';
import { startConfiguredServer } from './daemon';

/** The repository's rule file. */
export const RULES_FILE = path.join(findRepoRoot(), 'prometheus-rules', 'facefleet.rules.yml');
/** The `promtool test rules` files. */
export const RULE_TESTS_DIR = path.join(findRepoRoot(), 'prometheus-rules', 'tests');

/** One rule of a Prometheus rule file. */
export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** One group of a Prometheus rule file. */
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

/** The full path of `bin` on PATH, or undefined. */
export function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, bin);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Runs promtool with `args` (throws when promtool is missing). */
export function promtool(args: string[], cwd?: string): SpawnSyncReturns<string> {
  const bin = onPath('promtool');
  if (!bin) throw new Error('promtool is not on PATH (Debian: apt-get install prometheus)');
  return spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 120_000 });
}

/** Reads a rule file's groups. */
export function readRuleGroups(file: string = RULES_FILE): RuleGroup[] {
  return (YAML.parse(fs.readFileSync(file, 'utf8')) as { groups: RuleGroup[] }).groups;
}

/** Writes rule groups as a rule file. */
export function writeRuleGroups(file: string, groups: RuleGroup[]): void {
  fs.writeFileSync(file, YAML.stringify({ groups }));
}

/** A Prometheus server started for one test file. */
export interface PrometheusServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Its folder: config, rules, TSDB (`data/`), log. */
  dir: string;
  /** An instant query; returns the result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** The alerts Prometheus holds now (pending and firing). */
  alerts(): Promise<Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }>>;
  /** Scrape targets and their health. */
  targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string }>>;
  /** The server log so far (for failure messages). */
  log(): string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its folder unless `keepDir`. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  /** The `prometheus.yml` content as an object; `rule_files` are relative to the server's folder. */
  config: Record<string, unknown>;
  /** Rule files to place in the server's folder: name → groups. */
  rules?: Record<string, RuleGroup[]>;
  /** Extra command-line flags (e.g. `--web.enable-admin-api`). */
  flags?: string[];
  /** Existing folder to use (and keep); a new temp folder by default. */
  dir?: string;
  /** ms to wait for `/-/ready`. @defaultValue 30000 */
  readyTimeoutMs?: number;
}

/**
 * Starts Debian's `prometheus` on a free 127.0.0.1 port in its own folder with the given config and
 * rules, and waits until it is ready. Throws with the log when it exits or does not get ready.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const bin = onPath('prometheus');
  if (!bin) throw new Error('prometheus is not on PATH (Debian: apt-get install prometheus)');
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'facefleet-prom-'));
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, groups] of Object.entries(options.rules ?? {})) writeRuleGroups(path.join(dir, name), groups);
  const daemon = await startConfiguredServer({
    name: 'prometheus',
    bin,
    dir,
    ownDir: !options.dir,
    configFile: 'prometheus.yml',
    config: options.config,
    args: (port, configFile) => [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-lifecycle', ...(options.flags ?? [])],
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
  });
  const { url, port, log } = daemon;
  const api = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${url}${p}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${p}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    port,
    dir,
    log,
    query: async (expr) => (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api<{ alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }> }>('/api/v1/alerts')).alerts,
    targets: async () => (await api<{ activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> }>('/api/v1/targets')).activeTargets,
    stop: daemon.stop,
  };
}
