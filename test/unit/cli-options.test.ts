import { Command } from 'commander';
import { cliFlags } from '../../src/cli/cli-options';
import { buildProgram } from '../../src/cli/main';
import { COMMAND_OPTIONS } from '../../src/config/options';
import { defaultLabel, longFlag } from '../../src/config/option-spec';

/** The command at a path such as `failed list`. */
function commandAt(program: Command, path: string): Command {
  let cmd = program;
  for (const name of path.split(' ')) {
    const next = cmd.commands.find((c) => c.name() === name);
    if (!next) throw new Error(`no command ${path}`);
    cmd = next;
  }
  return cmd;
}

/** A command's help with lines joined, so a description wrapped at 80 columns reads as one. */
function flatHelp(cmd: Command): string {
  return cmd.helpInformation().replace(/\s+/g, ' ');
}

describe('the CLI built from the option tables', () => {
  const program = buildProgram();

  it.each(Object.keys(COMMAND_OPTIONS))('%s --help lists every option with its default and environment variable', (path) => {
    const cmd = commandAt(program, path);
    const help = flatHelp(cmd);
    const listed = Object.entries(COMMAND_OPTIONS[path]).filter(([, info]) => info.flag);
    listed.forEach(([key, info], i) => {
      const start = help.indexOf(` ${info.flag} `);
      expect({ key, listed: start >= 0 }).toEqual({ key, listed: true });
      // The option's own description: up to the next option of the list (they are listed in table order).
      const end = i + 1 < listed.length ? help.indexOf(` ${listed[i + 1][1].flag} `, start + 1) : help.indexOf(' -h, --help', start);
      const own = help.slice(start, end);
      const shown = defaultLabel(info);
      if (shown !== undefined) expect({ key, own }).toEqual({ key, own: expect.stringContaining(`default: ${shown}`) });
      if (info.env) expect({ key, own }).toEqual({ key, own: expect.stringContaining(`env: ${info.env}`) });
    });
  });

  it('gives commander no default and no variable, so the config alone reads the environment and names the source', () => {
    for (const path of Object.keys(COMMAND_OPTIONS)) {
      const cmd = commandAt(program, path);
      const flags = Object.values(COMMAND_OPTIONS[path]).flatMap((o) => (o.flag ? [longFlag(o)] : []));
      expect(cmd.options.map((o) => o.long)).toEqual(flags);
      for (const o of cmd.options) expect({ flag: o.long, defaultValue: o.defaultValue, envVar: o.envVar }).toEqual({ flag: o.long, defaultValue: undefined, envVar: undefined });
    }
  });

  it('hands a command only the flags given on the command line', async () => {
    let seen: Record<string, unknown> = {};
    const cmd = new Command('t').exitOverride();
    for (const flag of ['--batch <n>', '--no-console', '--allow-cpu-fallback']) cmd.option(flag);
    cmd.action((_o, c: Command) => {
      seen = cliFlags(c);
    });
    await cmd.parseAsync(['--batch', '4'], { from: 'user' });
    // commander implies console: true for --no-console; it was not given, so the environment still applies.
    expect(seen).toEqual({ batch: '4' });
    await cmd.parseAsync(['--no-console', '--allow-cpu-fallback'], { from: 'user' });
    expect(seen).toEqual({ console: false, allowCpuFallback: true });
  });

  it('shows choices from the schema, and the serve token only in the environment', () => {
    expect(flatHelp(commandAt(program, 'worker'))).toContain('choices: retinaface, blazeface, mogface');
    const serve = flatHelp(commandAt(program, 'serve'));
    expect(serve).toContain('FACEFLEET_API_TOKEN');
    expect(serve).not.toMatch(/--api-token/);
  });
});
