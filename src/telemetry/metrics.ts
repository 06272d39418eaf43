import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ALL_ERROR_CODES } from '../errors';

/** Processing stages timed per batch. */
export const STAGES = ['download', 'decode', 'preprocess', 'inference', 'postprocess', 'upload'] as const;
/** One processing stage. */
export type Stage = (typeof STAGES)[number];

/** Queue states reported by `facefleet_queue_jobs`. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed', 'paused'] as const;

/**
 * Every metric a worker exports, on its own registry (no global state). Buckets: stage and batch
 * durations span 1 ms–60 s (CPU BlazeFace batches take milliseconds, MogFace full batches seconds);
 * job wait spans 10 ms–6 h (nightly backlogs); batch size and faces per image are counts.
 */
export class FleetMetrics {
  readonly registry = new Registry();
  /** By queue and state; with `shard` when the queue is split (`--shards` > 1). */
  readonly queueJobs: Gauge<'queue' | 'shard' | 'state'>;
  readonly oldestWaitingAge: Gauge<'queue' | 'shard'>;
  readonly drainEstimate: Gauge<'queue' | 'shard'>;
  readonly imagesProcessed: Counter<'queue' | 'model' | 'outcome'>;
  readonly jobFailures: Counter<'queue' | 'code'>;
  readonly facesDetected: Counter<'model'>;
  readonly facesPerImage: Histogram<'model'>;
  readonly faceConfidence: Histogram<'model'>;
  readonly batchSize: Histogram<'model'>;
  readonly stageDuration: Histogram<'model' | 'stage'>;
  readonly jobWait: Histogram<'queue'>;
  readonly jobDuration: Histogram<'queue'>;
  readonly activeJobs: Gauge;
  readonly workerInfo: Gauge<'version' | 'model' | 'model_version' | 'provider'>;
  /** 1 for each shard this worker consumes (shard `0` for a queue that is not split). */
  readonly workerShards: Gauge<'queue' | 'shard'>;
  readonly modelLoad: Gauge<'model'>;
  /** Time the inference thread spent in `session.run`: its rate is the thread's utilisation. */
  readonly inferenceBusy: Counter<'model'>;
  /** Time images spent decoding, summed over the decode slots. */
  readonly decodeBusy: Counter<'model'>;
  /** Images the worker decodes at once (one per core). */
  readonly decodeSlots: Gauge<'model'>;
  /** Time the main thread's event loop was busy (its event-loop utilisation × wall), read at each scrape. */
  readonly eventLoopBusy: Counter;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    this.queueJobs = new Gauge({ name: 'facefleet_queue_jobs', help: 'Jobs in the queue by state (and shard, when the queue is split).', labelNames: ['queue', 'shard', 'state'], registers });
    this.oldestWaitingAge = new Gauge({ name: 'facefleet_queue_oldest_waiting_age_seconds', help: 'Age of the oldest waiting job (of the shard, when the queue is split).', labelNames: ['queue', 'shard'], registers });
    this.drainEstimate = new Gauge({ name: 'facefleet_queue_drain_seconds_estimate', help: 'Waiting jobs divided by recent fleet throughput (seconds to drain, per shard when the queue is split); -1 when nothing completes.', labelNames: ['queue', 'shard'], registers });
    this.imagesProcessed = new Counter({ name: 'facefleet_images_processed_total', help: 'Images processed, by outcome.', labelNames: ['queue', 'model', 'outcome'], registers });
    this.jobFailures = new Counter({ name: 'facefleet_job_failures_total', help: 'Job failures by reason code.', labelNames: ['queue', 'code'], registers });
    this.facesDetected = new Counter({ name: 'facefleet_faces_detected_total', help: 'Faces found.', labelNames: ['model'], registers });
    this.facesPerImage = new Histogram({ name: 'facefleet_faces_per_image', help: 'Faces per image.', labelNames: ['model'], buckets: [0, 1, 2, 3, 5, 10, 20, 50, 100], registers });
    this.faceConfidence = new Histogram({ name: 'facefleet_face_confidence', help: 'Scores of reported faces.', labelNames: ['model'], buckets: [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99], registers });
    this.batchSize = new Histogram({ name: 'facefleet_batch_size', help: 'Images per inference batch.', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64], registers });
    this.stageDuration = new Histogram({ name: 'facefleet_batch_stage_duration_seconds', help: 'Per-batch wall time of each stage.', labelNames: ['model', 'stage'], buckets: seconds, registers });
    this.jobWait = new Histogram({ name: 'facefleet_job_wait_seconds', help: 'Time from enqueue to start.', labelNames: ['queue'], buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 10800, 21600], registers });
    this.jobDuration = new Histogram({ name: 'facefleet_job_duration_seconds', help: 'Time from start to done.', labelNames: ['queue'], buckets: seconds, registers });
    this.activeJobs = new Gauge({ name: 'facefleet_worker_active_jobs', help: 'Jobs held by this worker.', registers });
    this.workerInfo = new Gauge({ name: 'facefleet_worker_info', help: 'Build and model information (always 1).', labelNames: ['version', 'model', 'model_version', 'provider'], registers });
    this.workerShards = new Gauge({ name: 'facefleet_worker_shard_info', help: 'Shards of the queue this worker takes jobs from (always 1).', labelNames: ['queue', 'shard'], registers });
    this.modelLoad = new Gauge({ name: 'facefleet_model_load_seconds', help: 'Model load and warm-up time.', labelNames: ['model'], registers });
    this.inferenceBusy = new Counter({ name: 'facefleet_inference_busy_seconds_total', help: 'Time the inference thread spent in session.run; rate() is its utilisation (near 1: the model bounds this worker).', labelNames: ['model'], registers });
    this.decodeBusy = new Counter({ name: 'facefleet_decode_busy_seconds_total', help: 'Time images spent decoding, summed over the decode slots; rate() / facefleet_decode_slots is their utilisation.', labelNames: ['model'], registers });
    this.decodeSlots = new Gauge({ name: 'facefleet_decode_slots', help: 'Images decoded at once (one per core).', labelNames: ['model'], registers });
    const started = performance.eventLoopUtilization();
    this.eventLoopBusy = new Counter({
      name: 'facefleet_event_loop_busy_seconds_total',
      help: "Time the main thread's event loop was busy since the metrics started; rate() is its utilisation (near 1: the main thread bounds this worker).",
      registers,
      collect() {
        this.reset();
        this.inc(performance.eventLoopUtilization(started).active / 1000);
      },
    });
  }

  /**
   * Pre-creates every bounded series so rates never start from nothing. `shards` are the consumed
   * shards' labels, for a split queue; a queue that is not split has no `shard` label on its gauges.
   */
  initSeries(queue: string, model: string, shards?: readonly string[]): void {
    for (const shard of shards ?? [undefined]) {
      const at = queueLabels(queue, shard);
      for (const state of QUEUE_STATES) this.queueJobs.set({ ...at, state }, 0);
      this.oldestWaitingAge.set(at, 0);
      this.drainEstimate.set(at, 0);
    }
    for (const outcome of ['success', 'failed', 'skipped']) this.imagesProcessed.labels(queue, model, outcome).inc(0);
    for (const code of ALL_ERROR_CODES) this.jobFailures.labels(queue, code).inc(0);
    this.facesDetected.labels(model).inc(0);
  }
}

/** The labels of a queue gauge: the queue, and its shard when the queue is split. */
export function queueLabels(queue: string, shard?: string): { queue: string; shard?: string } {
  return shard === undefined ? { queue } : { queue, shard };
}
