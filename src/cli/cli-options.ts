import { Command, Option } from 'commander';
import { helpLine, type OptionInfo } from '../config/option-spec';

/**
 * Adds the options of a table to a command, in table order. Neither commander's `.env()` nor its
 * `.default()` is used: the config parser reads the flag, then the variable, then the default, so it
 * can name where a bad value came from. The help line still shows the default and the variable.
 */
export function addOptions(cmd: Command, table: Readonly<Record<string, OptionInfo>>): Command {
  for (const [key, info] of Object.entries(table)) {
    if (info.flag === undefined) continue;
    const option = new Option(info.flag, helpLine(info));
    // The flag's attribute name is the key the config reads; a mismatch would drop the flag silently.
    if (option.attributeName() !== key) throw new Error(`option ${key}: flag ${info.flag} sets ${option.attributeName()}`);
    cmd.addOption(option);
  }
  return cmd;
}

/**
 * The options given on the command line, without the values commander implies (`true` for an
 * option like `--no-console` that was not given).
 */
export function cliFlags(cmd: Command): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cmd.opts()).filter(([key]) => cmd.getOptionValueSource(key) === 'cli'));
}
