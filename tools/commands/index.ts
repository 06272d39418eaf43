import type { ToolCommands } from '../../src/cli/command';

/**
 * The tooling commands of a source checkout, which `bin/facefleet.js` hands to the CLI when
 * `dist/tools` is built; each module loads when its command runs.
 */
export const TOOL_COMMANDS: ToolCommands = {
  bench: () => import('./bench.js'),
  chaos: () => import('./chaos.js'),
};
