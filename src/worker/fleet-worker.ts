import { DelayedError, Job, MetricsTime, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { classify, FacefleetError, isPermanent } from '../errors';
import type { RedisClient } from '../queue/connection';
import { isRunId, jobIdFor, parseJobData } from '../queue/job-data';
import type { JobSummary } from '../queue/result';
import { RunStore } from '../queue/run-store';
import { concurrencyPerShard, Shard, ShardedTarget, shardsOf } from '../queue/shards';
import type { FleetMetrics } from '../telemetry/metrics';
import type { JobProcessor } from './job-processor';
import { OutcomeCounter } from './outcome-counter';
import { StorageBreaker } from './storage-breaker';

/**
 * Times a job may be taken from a worker that stopped while holding it (killed, out of memory, hung
 * past its lock) before it is quarantined as `E_POISON` instead of being run again.
 */
export const MAX_STALLS = 3;

/** Times a job may be put back by the storage breaker without using an attempt (about an hour at the longest cool-down). */
export const MAX_BREAKER_RETURNS = 240;

/** Settings of a {@link FleetWorker}. */
export interface FleetWorkerOptions {
  /** The queue, and the shards it is split into. */
  target: ShardedTarget;
  /** The shards to take jobs from. @defaultValue every shard of `target` */
  shardIds?: readonly number[];
  /** Jobs held at once, all shards together (keeps the micro-batcher fed). */
  concurrency: number;
  /** BullMQ lock duration, ms. */
  lockDurationMs: number;
  /** How often BullMQ checks for stalled jobs, ms. @defaultValue 30000 */
  stalledIntervalMs?: number;
  /** Start consuming at once (false: call `run()` later). @defaultValue true */
  autorun?: boolean;
  /** The storage circuit breaker. @defaultValue a {@link StorageBreaker} with its defaults */
  breaker?: StorageBreaker;
  /** How long final outcomes wait to share a Redis call with others, ms. @defaultValue 0 (`DEFAULT_COUNT_WINDOW_MS`): one turn of the event loop */
  countWindowMs?: number;
}

/**
 * The BullMQ side of a worker: takes jobs from every shard it consumes (one BullMQ `Worker` per shard,
 * the concurrency split between them), hands them to the {@link JobProcessor}, turns its errors into
 * BullMQ's retry (transient) or `UnrecoverableError` (permanent, reason code kept as `CODE: message`;
 * an unclassified error is `E_INTERNAL`, permanent, logged with its stack), counts final outcomes on
 * the run record of the job's shard (once per job) and in metrics. A job whose earlier holders died
 * {@link MAX_STALLS} times is quarantined as `E_POISON`; while storage is unreachable (the
 * {@link StorageBreaker} is open) failing jobs wait without using their attempts.
 */
export class FleetWorker {
  /** The BullMQ workers, one per consumed shard, in the order of {@link shards}. */
  readonly workers: Worker[];
  /** The shards consumed. */
  readonly shards: readonly Shard[];
  /** Open while storage is unreachable (readiness reports it). */
  readonly breaker: StorageBreaker;
  private readonly counter: OutcomeCounter;
  private active = 0;

  constructor(
    private readonly processor: JobProcessor,
    connection: RedisClient,
    private readonly options: FleetWorkerOptions,
    private readonly log: Logger,
    private readonly metrics?: FleetMetrics,
  ) {
    this.counter = new OutcomeCounter(new RunStore(connection, options.target), { windowMs: options.countWindowMs });
    this.breaker = options.breaker ?? new StorageBreaker();
    this.shards = shardsOf(options.target, options.shardIds);
    const concurrency = concurrencyPerShard(options.concurrency, this.shards.length);
    this.workers = this.shards.map((shard, i) => {
      const worker = new Worker(shard.queue, (job, token) => this.handle(shard.index, job, token), {
        connection,
        prefix: shard.prefix,
        concurrency: concurrency[i],
        lockDuration: options.lockDurationMs,
        stalledInterval: options.stalledIntervalMs ?? 30_000,
        autorun: options.autorun ?? true,
        // Stalled jobs (a worker killed mid-batch) return to waiting; the handler quarantines a job
        // after MAX_STALLS with a reason, before BullMQ's own limit would fail it without one.
        maxStalledCount: MAX_STALLS + 1,
        // BullMQ's finished-job counters: the queue monitor's throughput (they keep counting when
        // completed jobs are removed), plus per-minute counts for a week.
        metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
      });
      worker.on('error', (err) => this.log.error({ err, ...(this.shards.length > 1 ? { shard: shard.index } : {}) }, 'worker error'));
      return worker;
    });
  }

  /** Starts consuming every shard (when constructed with `autorun: false`); resolves when all have stopped. */
  async run(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.run()));
  }

  /** Jobs currently held. */
  get activeJobs(): number {
    return this.active;
  }

  /** Calls `listener` whenever a job of any shard completes, or fails an attempt. */
  onFinished(listener: () => void): void {
    for (const w of this.workers) {
      w.on('completed', listener);
      w.on('failed', listener);
    }
  }

  /** Stops taking jobs and waits for the jobs in hand to finish. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }

  private async handle(shard: number, job: Job, token?: string): Promise<JobSummary> {
    const queue = this.options.target.queue;
    const model = this.processor.model.id;
    const runId = runOf(job);
    const jobKey = `${job.queueQualifiedName}:${job.id}`;
    const log = this.log.child({ jobId: job.id, runId: runId ?? 'none' });
    this.active++;
    this.metrics?.activeJobs.set(this.active);
    const started = Date.now();
    this.metrics?.jobWait.observe({ queue }, Math.max(0, started - job.timestamp) / 1000);
    try {
      if (job.stalledCounter >= MAX_STALLS) {
        throw new FacefleetError('E_POISON', `quarantined: the worker holding this job stopped ${job.stalledCounter} times (crashed, killed or hung past its lock) — the image may crash or hang the decoder`);
      }
      const summary = await this.processor.process(job.data, log, job.id);
      this.breaker.success();
      if (runId) await this.counter.count(runId, shard, { jobKey, outcome: summary.status === 'skipped' ? 'skipped' : 'done' });
      this.metrics?.imagesProcessed.inc({ queue, model, outcome: summary.status === 'skipped' ? 'skipped' : 'success' });
      return summary;
    } catch (err) {
      const error = classify(err);
      if (error.code !== 'E_STORAGE') this.breaker.success();
      else {
        const waitMs = this.breaker.failure();
        // Starts that ended neither in an attempt nor in a stall: earlier returns by the breaker.
        const returns = job.attemptsStarted - job.attemptsMade - job.stalledCounter;
        if (waitMs > 0 && token && returns < MAX_BREAKER_RETURNS) {
          log.warn({ code: error.code, waitMs, err: error.message }, 'storage unreachable: job put back without using an attempt');
          await job.moveToDelayed(Date.now() + waitMs, token);
          throw new DelayedError();
        }
      }
      const failure = jobFailure(error, job.attemptsMade, job.opts.attempts ?? 1);
      const fields = { code: error.code, attempt: job.attemptsMade + 1, final: failure.final };
      if (error.code === 'E_INTERNAL') log.error({ ...fields, err: error.cause ?? error }, 'job failed');
      else log.warn({ ...fields, err: error.message }, 'job failed');
      if (failure.final) {
        if (runId) await this.counter.count(runId, shard, { jobKey, outcome: 'failed', code: error.code }).catch((e: unknown) => log.error({ err: e }, 'cannot record failure'));
        this.metrics?.imagesProcessed.inc({ queue, model, outcome: 'failed' });
        this.metrics?.jobFailures.inc({ queue, code: error.code });
      }
      throw failure.thrown;
    } finally {
      this.active--;
      this.metrics?.activeJobs.set(this.active);
      this.metrics?.jobDuration.observe({ queue }, (Date.now() - started) / 1000);
    }
  }
}

/** What a failed attempt of a job becomes for BullMQ. */
export interface JobFailure {
  /** True when the job will not run again (permanent, or its last attempt). */
  final: boolean;
  /**
   * What the processor throws: BullMQ's `UnrecoverableError` for a permanent error (the job fails now,
   * whatever attempts are left), a plain `Error` for a transient one (retried with backoff); either way
   * with the reason `CODE: message`.
   */
  thrown: Error;
}

/**
 * Decides a failed attempt from its classified error (see `classify`: an unclassified error is
 * `E_INTERNAL`, permanent, so a bug fails its job once instead of going round the retries), the attempts
 * made before this one and the attempts allowed.
 */
export function jobFailure(error: FacefleetError, attemptsMade: number, attempts: number): JobFailure {
  if (isPermanent(error)) return { final: true, thrown: new UnrecoverableError(error.toReason()) };
  return { final: attemptsMade + 1 >= attempts, thrown: new Error(error.toReason(), { cause: error.cause ?? error }) };
}

/**
 * The run a job's outcome counts into, or `undefined` when it belongs to none: its payload must be a
 * valid v1 job and its id the one every producer derives from (source, model, run id), so a job with a
 * bad payload or one added by hand under a real run's id cannot change that run's counts. Whether the
 * run exists is decided by the run store, atomically with the count.
 */
export function runOf(job: Pick<Job, 'id' | 'data'>): string | undefined {
  const runId: unknown = (job.data as { runId?: unknown } | undefined)?.runId;
  if (!isRunId(runId)) return undefined;
  try {
    const data = parseJobData(job.data);
    return job.id === jobIdFor(data.source, data.model, data.runId) ? data.runId : undefined;
  } catch {
    return undefined;
  }
}
