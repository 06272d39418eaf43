import { z } from 'zod';
import { FacefleetError } from '../errors';

/** Environment-variable names for config fields. */
export type EnvMap<T> = Partial<Record<keyof T, string>>;

/**
 * Merges flags over environment over defaults and validates with `schema`. A bad value fails with
 * `E_CONFIG` naming the field, its source (flag or env var), what was expected and what was given.
 */
export function parseConfig<S extends z.ZodObject>(
  schema: S,
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
  envNames: EnvMap<z.input<S>>,
): z.output<S> {
  const raw: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const [field, name] of Object.entries(envNames) as Array<[string, string]>) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      raw[field] = value;
      sources[field] = `env ${name}`;
    }
  }
  for (const [field, value] of Object.entries(flags)) {
    if (value !== undefined) {
      raw[field] = value;
      sources[field] = `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    }
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return Object.freeze(parsed.data) as z.output<S>;
  const lines = parsed.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? '');
    const given = field in raw ? JSON.stringify(raw[field]) : 'nothing';
    return `${field} (${sources[field] ?? 'default'}): ${issue.message}; given ${given}`;
  });
  throw new FacefleetError('E_CONFIG', `invalid configuration:\n  ${lines.join('\n  ')}`);
}

/** A positive integer read from a flag or env string. */
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A boolean read from a flag (boolean) or env string (`1/true/yes`, `0/false/no`). */
export const bool = () =>
  z.union([z.boolean(), z.enum(['1', 'true', 'yes', '0', 'false', 'no']).transform((v) => ['1', 'true', 'yes'].includes(v))]);
