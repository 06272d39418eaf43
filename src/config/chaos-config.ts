import type { PlainOptionTable } from './option-spec';

/**
 * The options of `facefleet chaos` (tooling that runs from a source checkout). Flag-only, and
 * validated by the suite itself (`tools/chaos/chaos-options.ts`), which takes its defaults from here.
 */
export const CHAOS_OPTIONS = {
  /** Size preset: `small` runs in CI in minutes, `full` gives the figures of docs/reliability.md. @defaultValue `small` */
  scale: { flag: '--scale <size>', default: 'small', help: 'small (CI, minutes) or full (the figures of docs/reliability.md)' },
  /** Comma-separated scenarios to run. @defaultValue all */
  only: { flag: '--only <list>', defaultText: 'all', help: 'comma-separated scenarios to run' },
  /** Print the rows as a JSON array on stdout. @defaultValue false */
  json: { flag: '--json', default: false, help: 'print the rows as a JSON array' },
  /** Keep the working folder (logs, data). @defaultValue false */
  keep: { flag: '--keep', default: false, help: 'keep the working folder (logs, data)' },
  /** Working folder. @defaultValue a new folder under the OS temp folder */
  dir: { flag: '--dir <dir>', defaultText: 'a new temp folder', help: 'working folder' },
} as const satisfies PlainOptionTable;

