import { z } from 'zod';
import { LOG_OPTIONS, MODEL_OPTIONS } from './common';
import { ConfigOf, defineOptions } from './option-spec';
import { bool, Env, parseConfig } from './parse';

/** The options of `facefleet demo`: the model options, the photos, the output and the log level. */
export const DEMO_OPTIONS = defineOptions({
  ...MODEL_OPTIONS,
  /** Photos to process. @defaultValue the bundled `samples/` */
  images: { flag: '--images <dir>', defaultText: 'the bundled samples', help: 'photos to process', schema: z.string().min(1) },
  /** Folder for results and annotated copies (emptied first). @defaultValue `facefleet-demo-results` */
  out: { flag: '--out <dir>', default: 'facefleet-demo-results', help: 'results and annotated copies', schema: z.string().min(1) },
  /** Print only a machine-readable summary on stdout. @defaultValue false */
  json: { flag: '--json', default: false, help: 'print only a machine-readable summary on stdout', schema: bool() },
  /** Level of the in-process worker's log; quiet, so the progress and summary stay readable. @defaultValue `error` (env `FACEFLEET_LOG_LEVEL`) */
  logLevel: { ...LOG_OPTIONS.logLevel, default: 'error' },
});

/** `facefleet demo` settings. */
export type DemoConfig = ConfigOf<typeof DEMO_OPTIONS>;

/** Builds `facefleet demo` settings; throws `E_CONFIG` naming every bad field. */
export function loadDemoConfig(flags: Record<string, unknown>, env: Env = process.env): Readonly<DemoConfig> {
  return parseConfig(DEMO_OPTIONS, flags, env);
}
