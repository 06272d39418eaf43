import type { Logger } from 'pino';
import type { DecodeOptions } from '../detectors/detector';
import type { DetectionEngine } from '../engine/detection-engine';
import { FacefleetError } from '../errors';
import type { ImageLimits } from '../imaging/probe-image';
import { detectImage } from '../engine/detect-image';
import { JobData, parseJobData } from '../queue/job-data';
import { DetectionResult, JobSummary, MAX_RESULT_BYTES, RESULT_SCHEMA_ID, resultMetadata } from '../queue/result';
import { parseResult } from '../queue/result-schema';
import { validateKey } from '../storage/key';
import { joinKey } from '../storage/location';
import type { ResolvedLocation, StoreRegistry } from '../storage/store-registry';
import type { FleetMetrics } from '../telemetry/metrics';

/** What the processor needs from its surroundings. */
export interface ProcessorDeps {
  engine: DetectionEngine;
  stores: StoreRegistry;
  limits: ImageLimits & { maxBytes: number };
  workerId: string;
  /** Treat every job as incremental. */
  forceIncremental: boolean;
  metrics?: FleetMetrics;
}

/**
 * Processes one detection job: validate → (incremental check) → download → decode and letterbox →
 * batched inference → result JSON written all-or-nothing, once per key and run → summary. Throws a `FacefleetError` whose
 * kind tells the caller whether a retry can help; nothing is written unless the result is complete.
 */
export class JobProcessor {
  constructor(private readonly deps: ProcessorDeps) {}

  /** The model this processor runs. */
  get model(): { id: string; version: string } {
    return { id: this.deps.engine.detector.id, version: this.deps.engine.detector.version };
  }

  async process(raw: unknown, log?: Logger, jobId?: string): Promise<JobSummary> {
    const data = parseJobData(raw);
    if (data.model !== this.model.id) {
      throw new FacefleetError('E_BAD_JOB', `job asks for model ${data.model}, this worker runs ${this.model.id}`);
    }
    const src = this.deps.stores.resolve(data.source);
    const key = data.key ?? src.key;
    validateKey(key);
    const resultUrl = resultUrlFor(data.results, key);
    const dst = this.deps.stores.resolve(resultUrl);

    if (data.incremental || this.deps.forceIncremental) {
      const head = await src.store.head(src.key);
      if (!head) throw new FacefleetError('E_NOT_FOUND', `source ${data.source} does not exist`);
      if (await this.isCurrent(dst, resultUrl, head.etag)) {
        log?.debug({ key }, 'result is current: skipped');
        return { status: 'skipped', key, result: resultUrl, faces: -1 };
      }
    }

    const labels = { model: this.model.id };
    const t0 = performance.now();
    const { body, head } = await src.store.get(src.key, { maxBytes: this.deps.limits.maxBytes });
    const t1 = performance.now();
    const det = await detectImage(this.deps.engine, body, this.deps.limits, overridesOf(data), jobId);
    const faces = det.faces;
    const result: DetectionResult = {
      schema: RESULT_SCHEMA_ID,
      key,
      source: { url: data.source, etag: head.etag, size: head.size },
      model: this.model,
      image: det.image,
      faces,
      timings: {
        downloadMs: round(t1 - t0),
        decodeMs: round(det.decodeMs),
        inferenceMs: round(det.inferenceMs),
        postprocessMs: round(det.postprocessMs),
        batchSize: det.batchSize,
      },
      runId: data.runId,
      worker: this.deps.workerId,
      createdAt: new Date().toISOString(),
    };
    const t3 = performance.now();
    const kept = await this.writeOnce(dst, resultUrl, result);
    if (kept) log?.info({ key, result: resultUrl, worker: kept.worker }, 'result already written by an earlier execution: kept');
    const t4 = performance.now();
    const m = this.deps.metrics;
    if (m) {
      m.stageDuration.observe({ ...labels, stage: 'download' }, (t1 - t0) / 1000);
      m.stageDuration.observe({ ...labels, stage: 'decode' }, det.decodeMs / 1000);
      m.stageDuration.observe({ ...labels, stage: 'upload' }, (t4 - t3) / 1000);
      m.facesDetected.inc(labels, faces.length);
      m.facesPerImage.observe(labels, faces.length);
      for (const f of faces) m.faceConfidence.observe(labels, f.score);
    }
    return { status: 'done', key, result: resultUrl, faces: (kept ?? result).faces.length };
  }

  /**
   * Writes the result only if the key holds none (one write per key however often the job runs: a
   * worker killed between its write and the job's completion makes the job run again). A result
   * already there from this run, source version and model is kept and returned; another facefleet
   * result for the same key (an older run, a changed source, another model version) is replaced.
   * Anything else there is never overwritten: it fails the job with a permanent `E_BAD_KEY` (see
   * {@link readExistingResult}). The exclusive create comes first, so a new key costs no extra read.
   */
  private async writeOnce(dst: ResolvedLocation, resultUrl: string, result: DetectionResult): Promise<DetectionResult | undefined> {
    const body = JSON.stringify(result);
    const options = { contentType: 'application/json', metadata: { ...resultMetadata(result) } };
    if (await dst.store.putIfAbsent(dst.key, body, options)) return undefined;
    const existing = await readExistingResult(dst, resultUrl).catch((err: unknown) => {
      // Deleted since the exclusive create failed: the key is free again.
      if (err instanceof FacefleetError && err.code === 'E_NOT_FOUND') return undefined;
      throw err;
    });
    if (existing !== undefined && existing.key !== result.key) {
      throw new FacefleetError('E_BAD_KEY', `the result location ${resultUrl} holds the facefleet result of another key (${JSON.stringify(existing.key.slice(0, 200))}); it is left untouched`);
    }
    const same =
      existing !== undefined &&
      existing.runId === result.runId &&
      existing.source.etag === result.source.etag &&
      existing.model.id === result.model.id &&
      existing.model.version === result.model.version;
    if (same) return existing;
    await dst.store.put(dst.key, body, options);
    return undefined;
  }

  /**
   * True when the stored result was made from this source ETag by this model id and version.
   * @throws FacefleetError `E_BAD_KEY` when the object there is not a facefleet result (see {@link readExistingResult}).
   */
  private async isCurrent(dst: ResolvedLocation, resultUrl: string, sourceEtag: string): Promise<boolean> {
    const head = await dst.store.head(dst.key);
    if (!head) return false;
    let meta: Record<string, string | undefined> = head.metadata;
    if (!meta['source-etag']) {
      // Stores without object metadata (files): the result itself carries the same facts.
      const stored = await readExistingResult(dst, resultUrl).catch((err: unknown) => {
        // Deleted since the head: nothing is current.
        if (err instanceof FacefleetError && err.code === 'E_NOT_FOUND') return undefined;
        throw err;
      });
      if (!stored) return false;
      meta = { 'source-etag': stored.source.etag, 'model-id': stored.model.id, 'model-version': stored.model.version };
    }
    return meta['source-etag'] === sourceEtag && meta['model-id'] === this.model.id && meta['model-version'] === this.model.version;
  }
}

/**
 * The facefleet result stored at `dst`, read with a size cap. Anything else under the result's name (not
 * JSON, not a v1 result, larger than {@link MAX_RESULT_BYTES}) is a permanent `E_BAD_KEY`: the key is
 * taken by an object facefleet did not write, which is left untouched, and whose bytes stay out of the
 * failure reason (it may be anyone's file).
 */
async function readExistingResult(dst: ResolvedLocation, resultUrl: string): Promise<DetectionResult> {
  const notResult = (why: string, cause?: unknown) =>
    new FacefleetError('E_BAD_KEY', `the result location ${resultUrl} holds an object that is not a facefleet result (${why}); it is left untouched`, { cause });
  let body: Buffer;
  try {
    ({ body } = await dst.store.get(dst.key, { maxBytes: MAX_RESULT_BYTES }));
  } catch (err) {
    if (err instanceof FacefleetError && err.code === 'E_TOO_LARGE') throw notResult(`larger than ${MAX_RESULT_BYTES} bytes`);
    throw err;
  }
  try {
    return parseResult(body.toString('utf8'));
  } catch {
    // The parser's message may quote the bytes; the cause is dropped for the same reason.
    throw notResult(`not a ${RESULT_SCHEMA_ID} document`);
  }
}

/** `<results>/<key>.json`, for a results location URL with or without a trailing `/`. */
export function resultUrlFor(results: string, key: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*\/?)(.*)$/.exec(results);
  if (!match) throw new FacefleetError('E_BAD_JOB', `results location ${JSON.stringify(results)} is not a URL`);
  const [, head, prefix] = match;
  const base = head.endsWith('/') ? head : `${head}/`;
  return base + joinKey(prefix, `${key}.json`);
}

function overridesOf(data: JobData): Partial<DecodeOptions> & { maxFaces?: number } {
  const o = data.options;
  if (!o) return {};
  return {
    ...(o.scoreThreshold !== undefined ? { scoreThreshold: o.scoreThreshold } : {}),
    ...(o.iouThreshold !== undefined ? { iouThreshold: o.iouThreshold } : {}),
    ...(o.maxFaces !== undefined ? { maxFaces: o.maxFaces } : {}),
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
