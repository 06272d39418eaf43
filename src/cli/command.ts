/**
 * The one shape of a facefleet command: `run(flags, args)` gets the options given on the command line
 * (keyed as in the command's option table: the command's config reads the environment and the
 * defaults itself) and the positional arguments (keys, files, a run id, a sub-action), and resolves
 * with the process exit code. `worker` and `serve` resolve once they run; they end on a signal,
 * through their lifecycle.
 */
export type RunCommand = (flags: Record<string, unknown>, args: readonly string[]) => Promise<number>;

/** A command's module: `src/cli/commands/<name>.ts`, or `tools/commands/<name>.ts` for tooling. */
export interface CommandModule {
  run: RunCommand;
}

/** The tooling commands, which exist in a source checkout only. */
export type ToolCommandName = 'bench' | 'chaos';

/**
 * The tooling commands by name, each loaded when it runs. `bin/facefleet.js` passes them when the
 * checkout's `tools/` tree is built (`dist/tools`); an image ships the product only and passes none.
 */
export type ToolCommands = Partial<Record<ToolCommandName, () => Promise<CommandModule>>>;
