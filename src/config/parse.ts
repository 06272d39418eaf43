import { z } from 'zod';
import { FacefleetError } from '../errors';
import { ConfigOf, longFlag, OptionSpec, OptionTable } from './option-spec';

/** Environment variables, as `process.env` holds them. */
export type Env = Record<string, string | undefined>;

/** A raw value and where it came from: `--flag`, `env NAME` or `default`. */
export interface RawValue {
  value: unknown;
  source: string;
}

/**
 * The raw value of one option: the flag when given (a `flags` entry not undefined; options without a
 * flag are read from the environment only), else its environment variable when set and not empty,
 * else its default; undefined when none applies.
 */
export function rawValue(key: string, spec: OptionSpec, flags: Record<string, unknown>, env: Env): RawValue | undefined {
  const flag = longFlag(spec);
  if (flag !== undefined && flags[key] !== undefined) return { value: flags[key], source: flag };
  const fromEnv = spec.env !== undefined ? env[spec.env] : undefined;
  if (spec.env !== undefined && fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: `env ${spec.env}` };
  if (spec.default !== undefined) return { value: typeof spec.default === 'function' ? spec.default() : spec.default, source: 'default' };
  return undefined;
}

/** Where the value of `key` came from (`--flag`, `env NAME`, `default`), for checks across fields. */
export function sourceOf(table: OptionTable, key: string, flags: Record<string, unknown>, env: Env): string {
  return rawValue(key, table[key], flags, env)?.source ?? 'default';
}

/**
 * Reads every option of `table` from the flags given on the command line, then the environment, then
 * its default, validates and converts each with its schema, and returns the frozen config. Every bad
 * value is reported at once as `E_CONFIG`, each naming the field, its source (the flag when it came
 * from the command line, the variable when from the environment, `default` otherwise), what was
 * expected and what was given. An option nobody set that has a `derive` takes its value from the other
 * options once they are parsed.
 */
export function parseConfig<T extends OptionTable>(table: T, flags: Record<string, unknown>, env: Env): Readonly<ConfigOf<T>> {
  const out: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(table)) {
    const raw = rawValue(key, spec, flags, env);
    if (raw !== undefined) sources[key] = raw.source;
    if (raw === undefined) {
      if (spec.required) problems.push(`${key} (${[longFlag(spec), spec.env && `env ${spec.env}`].filter(Boolean).join(' or ')}): required; given nothing`);
      continue;
    }
    const parsed = spec.schema.safeParse(raw.value);
    if (parsed.success) {
      if (parsed.data !== undefined) out[key] = parsed.data;
      continue;
    }
    const given = spec.secret ? `${String(raw.value).length} characters (value not shown)` : JSON.stringify(raw.value);
    for (const issue of parsed.error.issues) problems.push(`${key} (${raw.source}): ${issue.message}; given ${given}`);
  }
  if (problems.length > 0) throw configError(problems);
  // Derived defaults, computed once every option is parsed, for options nobody set.
  for (const [key, spec] of Object.entries(table)) {
    if (!spec.derive || (sources[key] ?? 'default') !== 'default') continue;
    const derived = spec.derive(out);
    if (derived === undefined) delete out[key];
    else out[key] = derived;
  }
  return withSources(Object.freeze(out), sources) as Readonly<ConfigOf<T>>;
}

/** Where each field of a parsed config came from, kept beside the frozen object. */
const SOURCES = new WeakMap<object, Readonly<Record<string, string>>>();

/** Records where the fields of `config` came from: a map, or the config they were copied from. */
export function withSources<C extends object>(config: C, from: Readonly<Record<string, string>> | object): C {
  SOURCES.set(config, SOURCES.get(from) ?? (from as Record<string, string>));
  return config;
}

/**
 * A field of a parsed config as messages name it, with its source: `metricsPort (env
 * FACEFLEET_METRICS_PORT)`, `port (--port)`, `batch (default)`. For errors found after parsing (a port
 * that cannot be bound).
 */
export function fieldLabel(config: object, key: string): string {
  return `${key} (${SOURCES.get(config)?.[key] ?? 'default'})`;
}

/** The `E_CONFIG` error of one or more problems, one per line. */
export function configError(problems: string[]): FacefleetError {
  return new FacefleetError('E_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** The subset of `env` that a table reads (so a command ignores variables of options it does not take). */
export function envOf(table: OptionTable, env: Env): Env {
  return Object.fromEntries(Object.values(table).flatMap((s) => (s.env !== undefined && env[s.env] !== undefined ? [[s.env, env[s.env]]] : [])));
}

/** An integer from `min` to `max`, read from a flag or env string. */
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A boolean from a flag (boolean) or env string (`1/true/yes`, `0/false/no`). */
export const bool = () =>
  z.union([z.boolean(), z.enum(['1', 'true', 'yes', '0', 'false', 'no']).transform((v) => ['1', 'true', 'yes'].includes(v))], {
    error: 'expected a boolean: 1, true, yes or 0, false, no',
  });
