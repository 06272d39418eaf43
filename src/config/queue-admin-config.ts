import { z } from 'zod';
import { checkQueueLayout, QUEUE_OPTIONS } from './common';
import { ConfigOf, defineOptions } from './option-spec';
import { bool, Env, int, parseConfig } from './parse';

/** The options of `facefleet runs`. */
export const RUNS_OPTIONS = defineOptions({
  ...QUEUE_OPTIONS,
  /** Machine-readable output. @defaultValue false */
  json: { flag: '--json', default: false, help: 'machine-readable output', schema: bool() },
  /** Runs listed, newest first. @defaultValue 20 */
  limit: { flag: '--limit <n>', default: 20, help: 'runs listed', schema: int(1, 1_000_000) },
});

/** `facefleet runs` settings. */
export type RunsConfig = ConfigOf<typeof RUNS_OPTIONS>;

/** Builds `facefleet runs` settings; throws `E_CONFIG` naming every bad field. */
export function loadRunsConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<RunsConfig> {
  const config = parseConfig(RUNS_OPTIONS, flags, env);
  checkQueueLayout(config, RUNS_OPTIONS, flags, env);
  return config;
}

/** The filters every `facefleet failed` action takes. */
const FAILED_FILTERS = defineOptions({
  ...QUEUE_OPTIONS,
  /** Only failed jobs of this run. */
  run: { flag: '--run <id>', help: 'only this run', schema: z.string().min(1) },
  /** Only failed jobs with this code (checked against the failure codes by the command). */
  code: { flag: '--code <code>', help: 'only this failure code (e.g. E_DECODE)', schema: z.string().min(1) },
});

/** The options of `facefleet failed list`. */
export const FAILED_LIST_OPTIONS = defineOptions({
  ...FAILED_FILTERS,
  /** Machine-readable output. @defaultValue false */
  json: { flag: '--json', default: false, help: 'machine-readable output', schema: bool() },
});

/** The options of `facefleet failed retry`. */
export const FAILED_RETRY_OPTIONS = defineOptions({
  ...FAILED_FILTERS,
  /** Also re-queue permanent failures. @defaultValue false */
  all: { flag: '--all', default: false, help: 'also re-queue permanent failures', schema: bool() },
});

/** The options of `facefleet failed export`. */
export const FAILED_EXPORT_OPTIONS = defineOptions({
  ...FAILED_FILTERS,
  /** File to write the manifest to. @defaultValue stdout */
  out: { flag: '--out <file>', defaultText: 'stdout', help: 'write to a file instead of stdout', schema: z.string().min(1) },
});

/** `facefleet failed` settings: every action's options, those of other actions unset. */
export type FailedConfig = ConfigOf<typeof FAILED_FILTERS> & { json?: boolean; all?: boolean; out?: string };

/** Builds `facefleet failed <action>` settings; throws `E_CONFIG` naming every bad field. */
export function loadFailedConfig(action: 'list' | 'retry' | 'export', flags: Record<string, unknown>, env: Env = process.env): Readonly<FailedConfig> {
  const table = action === 'list' ? FAILED_LIST_OPTIONS : action === 'retry' ? FAILED_RETRY_OPTIONS : FAILED_EXPORT_OPTIONS;
  const config = parseConfig(table, flags, env);
  checkQueueLayout(config, table, flags, env);
  return config;
}
