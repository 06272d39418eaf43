import { MODEL_OPTIONS } from './common';
import type { PlainOptionTable } from './option-spec';

/**
 * The options `facefleet bench` adds to the model options. Flag-only, and validated by the benchmark
 * itself (`tools/bench/bench-options.ts`), which takes its defaults from here.
 */
export const BENCH_OWN_OPTIONS = {
  /** Photos of the `samples` set; undecodable files are skipped. @defaultValue the bundled `samples/` */
  images: { flag: '--images <dir>', defaultText: 'the bundled samples', help: 'photos to run on; undecodable files are skipped' },
  /** Photo sets measured, in order. @defaultValue `samples,camera` */
  sets: { flag: '--sets <list>', default: 'samples,camera', help: 'photo sets to measure: samples (the --images photos), camera (12 MP JPEGs made from the bundled samples), or both' },
  /** Images per measurement (the photos repeated). @defaultValue 400 */
  count: { flag: '--count <n>', default: 400, help: 'images per measurement (the photos repeated)' },
  /** `facefleet worker` processes of the pipeline measurement. @defaultValue 1 */
  workers: { flag: '--workers <k>', default: 1, help: 'facefleet worker processes of the pipeline measurement' },
  /** Length of the ceiling loop, and the longest the naive worker runs, s. @defaultValue 10 */
  seconds: { flag: '--seconds <s>', default: 10, unit: 's', help: 'length of the ceiling loop, and the longest the naive worker runs' },
  /** Images in hand per worker; 0 derives 3 × batch. @defaultValue 0 */
  concurrency: { flag: '--concurrency <n>', default: 0, defaultText: '0 (= 3 × batch)', help: 'images in hand per worker' },
  /** Measurements to take; `none` for the sweep alone. @defaultValue every one but `fleet` and `inference` */
  phases: { flag: '--phases <list>', default: 'ceiling,in-process,pipeline,naive,stages,plain-loop,enqueue', help: 'measurements to take: ceiling,in-process,pipeline,naive,enqueue,fleet (fleet: redis-server CPU per image, enqueue and processing, with --workers and --shards), inference (CPU per image across batch, intra-op threads and execution modes), stages (CPU per image of each stage alone, and the CPU limit), plain-loop (one image at a time in one process: TypeScript, and Python when python3 has Pillow, onnxruntime and numpy), or none (only the sweep)' },
  /** BullMQ queues the queue of the fleet measurement is split into. @defaultValue 1 */
  shards: { flag: '--shards <n>', default: 1, help: 'shards of the queue of the fleet measurement (--phases fleet)' },
  /** Rounds of the measurements, interleaved; the median round is reported. @defaultValue 1 */
  rounds: { flag: '--rounds <n>', default: 1, help: 'repeat the measurements interleaved and report the median round' },
  /** Keys in the enqueue measurement. @defaultValue 100000 */
  enqueueKeys: { flag: '--enqueue-keys <n>', default: 100_000, help: 'keys in the enqueue measurement' },
  /** Also measure images/s against batch size and worker processes. @defaultValue false */
  sweep: { flag: '--sweep', default: false, help: 'also measure images/s against batch size and worker processes' },
  /** Batch sizes of the sweep. @defaultValue `1,2,4,8,16` */
  batches: { flag: '--batches <list>', default: '1,2,4,8,16', help: 'batch sizes of the sweep' },
  /** Worker-process counts of the sweep. @defaultValue `1,2` */
  sweepWorkers: { flag: '--sweep-workers <list>', default: '1,2', help: 'worker-process counts of the sweep' },
  /** Measurements of each sweep row. @defaultValue `ceiling,in-process,pipeline` */
  sweepPhases: { flag: '--sweep-phases <list>', default: 'ceiling,in-process,pipeline', help: 'measurements of each sweep row: ceiling,in-process,pipeline' },
  /** Also load `facefleet serve`: req/s and p50/p95 at 1, 8 and 32 callers, batching on and off. @defaultValue false */
  serve: { flag: '--serve', default: false, help: 'also load facefleet serve: req/s and p50/p95 at 1, 8 and 32 callers, dynamic batching on and off' },
  /** Measured time per serve row, s. @defaultValue 5 */
  serveSeconds: { flag: '--serve-seconds <s>', default: 5, unit: 's', help: 'measured time per serve row' },
  /** Batch sizes of the inference grid (`--phases inference`). @defaultValue `1,2,4,8` */
  inferenceBatches: { flag: '--inference-batches <list>', default: '1,2,4,8', help: 'batch sizes of the inference grid (--phases inference)' },
  /** Intra-op thread counts of the inference grid; 0 lets onnxruntime decide. @defaultValue `1,<cores>,0` */
  intraThreads: { flag: '--intra-threads <list>', defaultText: '1,<cores>,0', help: 'onnxruntime intra-op thread counts of the inference grid (0: onnxruntime decides)' },
  /** Execution settings of the inference grid: `sequential`, `parallel:N` (N inter-op threads). @defaultValue `sequential,parallel:1,parallel:2` */
  executionModes: { flag: '--execution-modes <list>', default: 'sequential,parallel:1,parallel:2', help: 'execution settings of the inference grid: sequential, parallel:N (N inter-op threads, 0: onnxruntime decides)' },
  /** Measured time per row of the inference grid, s. @defaultValue 2 */
  inferenceSeconds: { flag: '--inference-seconds <s>', default: 2, unit: 's', help: 'measured time per row of the inference grid' },
  /** Folder for a V8 CPU profile of every pipeline worker process (`node --cpu-prof`). @defaultValue none */
  profileDir: { flag: '--profile-dir <dir>', help: 'write a V8 CPU profile of every pipeline worker process here (node --cpu-prof)' },
  /** Print one JSON object on stdout. @defaultValue false */
  json: { flag: '--json', default: false, help: 'print one JSON object on stdout' },
} as const satisfies PlainOptionTable;

/** The options of `facefleet bench`: the model options as a worker takes them, and the benchmark's own. */
export const BENCH_OPTIONS = { ...MODEL_OPTIONS, ...BENCH_OWN_OPTIONS } as const;
