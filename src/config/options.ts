import { BENCH_OPTIONS } from './bench-config';
import { DEMO_OPTIONS } from './demo-config';
import { EVAL_OPTIONS } from './eval-config';
import { DETECT_OPTIONS } from './model-config';
import type { OptionInfo } from './option-spec';
import { ENQUEUE_OPTIONS } from './producer-config';
import { FAILED_EXPORT_OPTIONS, FAILED_LIST_OPTIONS, FAILED_RETRY_OPTIONS, RUNS_OPTIONS } from './queue-admin-config';
import { SERVE_OPTIONS } from './serve-config';
import { SHARDS_BALANCE_OPTIONS, SHARDS_LIST_OPTIONS } from './shards-config';
import { WORKER_OPTIONS } from './worker-config';

/**
 * Every command's options, by command path: the one table `buildProgram()` adds the commander options
 * from, the help test walks and the README tables are rendered from.
 */
export const COMMAND_OPTIONS: Readonly<Record<string, Readonly<Record<string, OptionInfo>>>> = Object.freeze({
  worker: WORKER_OPTIONS,
  enqueue: ENQUEUE_OPTIONS,
  runs: RUNS_OPTIONS,
  detect: DETECT_OPTIONS,
  demo: DEMO_OPTIONS,
  serve: SERVE_OPTIONS,
  bench: BENCH_OPTIONS,
  'failed list': FAILED_LIST_OPTIONS,
  'failed retry': FAILED_RETRY_OPTIONS,
  'failed export': FAILED_EXPORT_OPTIONS,
  'shards list': SHARDS_LIST_OPTIONS,
  'shards balance': SHARDS_BALANCE_OPTIONS,
  eval: EVAL_OPTIONS,
});
