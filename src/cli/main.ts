import { Command } from 'commander';
import { BENCH_OPTIONS } from '../config/bench-config';
import { DEMO_OPTIONS } from '../config/demo-config';
import { EVAL_OPTIONS } from '../config/eval-config';
import { CHAOS_OPTIONS } from '../config/chaos-config';
import { DETECT_OPTIONS, MODELS_PULL_OPTIONS } from '../config/model-config';
import { ENQUEUE_OPTIONS } from '../config/producer-config';
import { FAILED_EXPORT_OPTIONS, FAILED_LIST_OPTIONS, FAILED_RETRY_OPTIONS, RUNS_OPTIONS } from '../config/queue-admin-config';
import { API_TOKEN_ENV, SERVE_OPTIONS } from '../config/serve-config';
import { SHARDS_BALANCE_OPTIONS, SHARDS_LIST_OPTIONS } from '../config/shards-config';
import { WORKER_OPTIONS } from '../config/worker-config';
import { FacefleetError } from '../errors';
import { addOptions, cliFlags } from './cli-options';
import type { CommandModule, ToolCommandName, ToolCommands } from './command';

/** Every product command's module (`src/cli/commands/<name>.ts`), loaded when it runs, so `--help` and config errors answer at once. */
const COMMANDS = {
  worker: () => import('./commands/worker.js'),
  enqueue: () => import('./commands/enqueue.js'),
  runs: () => import('./commands/runs.js'),
  detect: () => import('./commands/detect.js'),
  demo: () => import('./commands/demo.js'),
  serve: () => import('./commands/serve.js'),
  failed: () => import('./commands/failed.js'),
  shards: () => import('./commands/shards.js'),
  models: () => import('./commands/models.js'),
  eval: () => import('./commands/eval.js'),
} satisfies Record<string, () => Promise<CommandModule>>;

/** Loads and runs a product command; the exit code it resolves with becomes the process's. */
async function runCommand(name: keyof typeof COMMANDS, flags: Record<string, unknown>, args: readonly string[] = []): Promise<void> {
  process.exitCode = await (await COMMANDS[name]()).run(flags, args);
}

/** Runs a tooling command, or says that it needs a source checkout when this install has none. */
async function runTool(tools: ToolCommands, name: ToolCommandName, flags: Record<string, unknown>): Promise<void> {
  const load = tools[name];
  if (!load) {
    throw new FacefleetError('E_DEPENDENCY', `facefleet ${name} is tooling that runs from a source checkout (git clone, npm ci, npm run build: it lives in tools/); this installation holds the product only`);
  }
  process.exitCode = await (await load()).run(flags, []);
}

/**
 * Builds the `facefleet` command tree. The options of every command come from its table in
 * `src/config/` (flag, variable, default, unit, help declared once); commands get only the flags given
 * on the command line ({@link cliFlags}) and read the environment and defaults through their config.
 */
export function buildProgram(tools: ToolCommands = {}): Command {
  const tooling = (name: ToolCommandName, description: string) => (tools[name] ? description : `${description} (needs a source checkout)`);
  const program = new Command('facefleet')
    .description('Batched face detection over very large photo collections: BullMQ queues, onnxruntime workers, S3 results.')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  addOptions(program.command('worker').description('consume detection jobs from the queue until SIGTERM/SIGINT'), WORKER_OPTIONS).action(async (_opts, cmd: Command) => runCommand('worker', cliFlags(cmd)));

  addOptions(program.command('enqueue').description('enqueue images as one run: keys as arguments, --prefix URL, or --manifest FILE'), ENQUEUE_OPTIONS)
    .argument('[keys...]', 'image URLs (s3://…, file:///…) or keys relative to --base')
    .action(async (keys: string[], _opts, cmd: Command) => runCommand('enqueue', cliFlags(cmd), keys));

  addOptions(program.command('runs').description('list runs with done/skipped/failed/total, or show one'), RUNS_OPTIONS)
    .argument('[runId]', 'show this run in full')
    .action(async (runId: string | undefined, _opts, cmd: Command) => runCommand('runs', cliFlags(cmd), runId === undefined ? [] : [runId]));

  addOptions(program.command('detect').description('run a model on local files without a queue'), DETECT_OPTIONS)
    .argument('<files...>', 'image files')
    .action(async (files: string[], _opts, cmd: Command) => runCommand('detect', cliFlags(cmd), files));

  addOptions(program.command('demo').description('the whole fleet on this machine: private Redis, local storage, bundled photos'), DEMO_OPTIONS).action(async (_opts, cmd: Command) => runCommand('demo', cliFlags(cmd)));

  addOptions(program.command('serve').description(`HTTP detection API with batching across callers, run views and a web console (token: env ${API_TOKEN_ENV})`), SERVE_OPTIONS).action(async (_opts, cmd: Command) => runCommand('serve', cliFlags(cmd)));

  addOptions(program.command('bench').description(tooling('bench', 'measure ceiling, in-process, pipeline, naive and enqueue throughput side by side on this machine')), BENCH_OPTIONS).action(async (_opts, cmd: Command) =>
    runTool(tools, 'bench', cliFlags(cmd)),
  );

  const failed = program.command('failed').description('the dead-letter view: failed jobs with their codes');
  addOptions(failed.command('list', { isDefault: true }).description('list failed jobs with codes and messages'), FAILED_LIST_OPTIONS).action(async (_opts, cmd: Command) => runCommand('failed', cliFlags(cmd), ['list']));
  addOptions(failed.command('retry').description('re-queue failed jobs whose code is transient (E_STORAGE, E_INFERENCE, E_SHUTDOWN)'), FAILED_RETRY_OPTIONS).action(async (_opts, cmd: Command) => runCommand('failed', cliFlags(cmd), ['retry']));
  addOptions(failed.command('export').description('write failed jobs as a JSONL manifest for enqueue --manifest'), FAILED_EXPORT_OPTIONS).action(async (_opts, cmd: Command) => runCommand('failed', cliFlags(cmd), ['export']));

  const shards = program.command('shards').description('where the shards of a split queue live on a Redis Cluster, and moving them until the masters hold equal numbers');
  addOptions(shards.command('list', { isDefault: true }).description('each shard: its slot, the master serving it, its keys and waiting jobs; and whether the placement is even'), SHARDS_LIST_OPTIONS).action(async (_opts, cmd: Command) =>
    runCommand('shards', cliFlags(cmd), ['list']),
  );
  addOptions(shards.command('balance').description("move the slots of the shards' hash tags, live, until every master holds floor or ceil(shards / masters) of them"), SHARDS_BALANCE_OPTIONS).action(async (_opts, cmd: Command) =>
    runCommand('shards', cliFlags(cmd), ['balance']),
  );

  addOptions(
    program
      .command('chaos')
      .description(tooling('chaos', 'reliability suite: kills workers, restarts Redis, stops storage, slow batches, hostile inputs, a big backlog; prints lost/corrupt/duplicates/crashes per scenario')),
    CHAOS_OPTIONS,
  )
    .action(async (_opts, cmd: Command) => runTool(tools, 'chaos', cliFlags(cmd)));

  const models = program.command('models').description('manage models');
  addOptions(models.command('pull'), MODELS_PULL_OPTIONS)
    .description('download and verify a built-in model into the cache ahead of time (retinaface, blazeface)')
    .argument('[id]', 'model id', 'retinaface')
    .action(async (id: string, _opts, cmd: Command) => runCommand('models', cliFlags(cmd), ['pull', id]));
  models.command('list').description('list registered models and cache state').action(async () => runCommand('models', {}, ['list']));
  addOptions(program.command('eval').description('score a model on an annotated photo set: AP, recall by face size, precision, FP/image, PR curve'), EVAL_OPTIONS).action(async (_opts, cmd: Command) => runCommand('eval', cliFlags(cmd)));
  return program;
}

/**
 * CLI entry: parses argv and runs the command; an error it throws goes to `failStart` (printed
 * classified, exit 64 or 1). `tools`: the tooling commands of a source checkout, from `bin/facefleet.js`.
 */
export function main(argv: string[], tools: ToolCommands = {}): void {
  buildProgram(tools)
    .parseAsync(argv)
    .catch(async (err: unknown) => {
      (await import('../lifecycle/fail-start.js')).failStart(err);
    });
}
