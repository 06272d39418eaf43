import { Job, MetricsTime, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { FacefleetError, isPermanent } from '../errors';
import type { JobSummary } from '../queue/result';
import type { QueueTarget } from '../queue/connection';
import { RunStore } from '../queue/run-store';
import type { FleetMetrics } from '../telemetry/metrics';
import type { JobProcessor } from './job-processor';

/** Settings of a {@link FleetWorker}. */
export interface FleetWorkerOptions {
  target: Pick<QueueTarget, 'queue' | 'prefix'>;
  /** Jobs held at once (keeps the micro-batcher fed). */
  concurrency: number;
  /** BullMQ lock duration, ms. */
  lockDurationMs: number;
  /** How often BullMQ checks for stalled jobs, ms. @defaultValue 30000 */
  stalledIntervalMs?: number;
  /** Start consuming at once (false: call `run()` later). @defaultValue true */
  autorun?: boolean;
}

/**
 * The BullMQ side of a worker: takes jobs, hands them to the {@link JobProcessor}, turns its errors
 * into BullMQ's retry (transient) or `UnrecoverableError` (permanent, reason code kept as
 * `CODE: message`), counts final outcomes on the run record and in metrics.
 */
export class FleetWorker {
  readonly worker: Worker;
  private readonly runs: RunStore;
  private active = 0;

  constructor(
    private readonly processor: JobProcessor,
    connection: Redis,
    private readonly options: FleetWorkerOptions,
    private readonly log: Logger,
    private readonly metrics?: FleetMetrics,
  ) {
    this.runs = new RunStore(connection, options.target);
    this.worker = new Worker(options.target.queue, (job) => this.handle(job), {
      connection,
      prefix: options.target.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      autorun: options.autorun ?? true,
      // Stalled jobs (a worker killed mid-batch) return to waiting; a few times, then they fail.
      maxStalledCount: 3,
      // BullMQ's finished-job counters: the queue monitor's throughput (they keep counting when
      // completed jobs are removed), plus per-minute counts for a week.
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'worker error'));
  }

  /** Starts consuming (when constructed with `autorun: false`). */
  run(): Promise<void> {
    return this.worker.run();
  }

  /** Jobs currently held. */
  get activeJobs(): number {
    return this.active;
  }

  /** Stops taking jobs and waits for the jobs in hand to finish. */
  close(): Promise<void> {
    return this.worker.close();
  }

  private async handle(job: Job): Promise<JobSummary> {
    const queue = this.options.target.queue;
    const model = this.processor.model.id;
    const runId = typeof job.data?.runId === 'string' ? job.data.runId : 'unknown';
    const log = this.log.child({ jobId: job.id, runId });
    this.active++;
    this.metrics?.activeJobs.set(this.active);
    const started = Date.now();
    this.metrics?.jobWait.observe({ queue }, Math.max(0, started - job.timestamp) / 1000);
    try {
      const summary = await this.processor.process(job.data, log);
      await this.runs.record(runId, summary.status === 'skipped' ? 'skipped' : 'done');
      this.metrics?.imagesProcessed.inc({ queue, model, outcome: summary.status === 'skipped' ? 'skipped' : 'success' });
      return summary;
    } catch (err) {
      const error = err instanceof FacefleetError ? err : new FacefleetError('E_INFERENCE', (err as Error)?.message ?? String(err), { cause: err });
      const final = isPermanent(error) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.warn({ code: error.code, attempt: job.attemptsMade + 1, final, err: error.message }, 'job failed');
      if (final) {
        await this.runs.record(runId, 'failed', error.code).catch((e) => log.error({ err: e }, 'cannot record failure'));
        this.metrics?.imagesProcessed.inc({ queue, model, outcome: 'failed' });
        this.metrics?.jobFailures.inc({ queue, code: error.code });
      }
      if (isPermanent(error)) throw new UnrecoverableError(error.toReason());
      throw new Error(error.toReason(), { cause: err });
    } finally {
      this.active--;
      this.metrics?.activeJobs.set(this.active);
      this.metrics?.jobDuration.observe({ queue }, (Date.now() - started) / 1000);
    }
  }
}
