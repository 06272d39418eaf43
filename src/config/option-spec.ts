import { z } from 'zod';

/**
 * What the CLI, the help and the README need to know of an option: its flag, environment variable,
 * default, unit and help. Options validated elsewhere (the benchmark's) are declared with this alone.
 */
export interface OptionInfo {
  /**
   * Commander flags: `--batch <n>` for a value, `--wait` for a boolean, `--no-console` for a negation.
   * Its attribute name (camel case, without `no-`) is the option's key. Absent: environment only.
   */
  readonly flag?: string;
  /** Environment variable read when the flag is not given. Absent: flag only. */
  readonly env?: string;
  /**
   * Value used when neither the flag nor the variable is given, in the form a flag or variable would
   * carry (it is validated and converted the same way); a function for derived defaults (host name,
   * time, current directory). Absent: the option is unset (or required).
   */
  readonly default?: string | number | boolean | (() => string);
  /** How help and README show the default when it is derived or absent (`<hostname>-<pid>`, `model's`). */
  readonly defaultText?: string;
  /** Unit of the value (`ms`, `MiB`, `px`, `days`). */
  readonly unit?: string;
  /** One line for `--help`. */
  readonly help: string;
  /** The README's meaning column (markdown); `help` when absent. */
  readonly doc?: string;
}

/** Where the Helm chart sets an option: a key under `config` in `values.yaml`. */
export interface ChartValue {
  /** Key under `config` (usually the option's own key). */
  readonly key: string;
  /** Description in `values.schema.json` after the variable name. @defaultValue the option's `help` */
  readonly description?: string;
  /** JSON Schema keywords replacing those derived from `schema` (booleans, patterns zod cannot export). */
  readonly schema?: Readonly<Record<string, unknown>>;
}

/** One option declared once: {@link OptionInfo} plus its validation. */
export interface OptionSpec<S extends z.ZodType = z.ZodType> extends OptionInfo {
  /** Validates and converts the raw value (a flag's string or boolean, an env string, the default). */
  readonly schema: S;
  /** Fail when no value is given and there is no default. @defaultValue false */
  readonly required?: boolean;
  /** Never repeat the value in a message (tokens). @defaultValue false */
  readonly secret?: boolean;
  /** Rendered by the Helm chart under this `config` key (worker options only). */
  readonly chart?: ChartValue;
  /**
   * A default that depends on other options: when neither the flag nor the variable gives a value, the
   * option takes what this returns from the other parsed options (the static `default` among them), once,
   * after they are all parsed. It returns a value (the typed config counts the option as always set).
   * Say so in `doc` and TSDoc.
   */
  readonly derive?: (config: Readonly<Record<string, unknown>>) => unknown;
}

/** The options of one command, by key (the config field and the flag's attribute name). */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** Options of a command that are only shown and passed on (validated by the command itself). */
export type PlainOptionTable = Readonly<Record<string, OptionInfo>>;

/** Keeps the literal shape of a table (which entries have defaults) while checking it. */
export function defineOptions<const T extends OptionTable>(table: T): T {
  return table;
}

type HasValue<O> = O extends { default: unknown } ? true : O extends { required: true } ? true : O extends { derive: (config: never) => unknown } ? true : false;

/** The typed config a table parses into: options with a default, a derived default or required are always set. */
export type ConfigOf<T extends OptionTable> = {
  -readonly [K in keyof T as HasValue<T[K]> extends true ? K : never]: z.output<T[K]['schema']>;
} & {
  -readonly [K in keyof T as HasValue<T[K]> extends true ? never : K]?: z.output<T[K]['schema']>;
};

/** The long flag of an option (`--no-console` of `--no-console`, `--batch` of `--batch <n>`). */
export function longFlag(info: OptionInfo): string | undefined {
  return info.flag?.match(/--[a-z0-9-]+/)?.[0];
}

/** The values an option accepts when its schema is an enum (shown in help and README). */
export function choicesOf(info: OptionInfo): readonly string[] | undefined {
  const schema = (info as Partial<OptionSpec>).schema;
  return schema instanceof z.ZodEnum ? (schema.options as string[]) : undefined;
}

/** How help and README show a default: its text, the value with its unit, or on/off for booleans. */
export function defaultLabel(info: OptionInfo): string | undefined {
  if (info.defaultText !== undefined) return info.defaultText;
  if (info.default === undefined || typeof info.default === 'function') return undefined;
  if (typeof info.default === 'boolean') return info.default ? 'on' : 'off';
  if (info.default === '') return undefined;
  return info.unit ? `${info.default} ${info.unit}` : String(info.default);
}

/** The `--help` line of an option: its help, then choices, default and environment variable. */
export function helpLine(info: OptionInfo): string {
  const extra: string[] = [];
  const choices = choicesOf(info);
  if (choices) extra.push(`choices: ${choices.join(', ')}`);
  const shown = defaultLabel(info);
  if (shown !== undefined) extra.push(`default: ${shown}`);
  else if (info.unit && info.flag?.includes('<')) extra.push(info.unit);
  if (info.env) extra.push(`env: ${info.env}`);
  return extra.length > 0 ? `${info.help} (${extra.join(', ')})` : info.help;
}
