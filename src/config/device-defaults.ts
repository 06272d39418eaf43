/**
 * Execution providers whose sessions run on a GPU. When one of them comes first in `--providers`, the
 * options that suit a GPU differently from a CPU take their GPU defaults (unless set): see
 * {@link GPU_DEFAULT_BATCH}.
 */
export const GPU_PROVIDERS = ['cuda', 'tensorrt'] as const;

/**
 * Images per `session.run` on a GPU when `--batch` is not set. On a CPU a batch costs about what its
 * images cost one by one, so the CPU default (8) is small; a GPU runs a batch's images side by side and
 * the per-run costs (launches, the host-to-device copy setup) are shared, so larger batches raise
 * throughput until the device is full. 32 canvases of 640² are 157 MB of float32 input per batch.
 */
export const GPU_DEFAULT_BATCH = 32;

/**
 * Images per `session.run` on a CPU when `--batch` is not set: 1, for every model. On a CPU a batch
 * costs what its images cost one by one, or more: `facefleet bench --phases inference` on 2 cores
 * measured RetinaFace at 640² 24 CPU ms per image at batch 1 against 32 at batch 8 (one intra-op
 * thread), BlazeFace 9.0 against 9.9; and a worker's memory grows with the batch (RetinaFace on the
 * bench's camera photos: 340 MB at batch 1, 800 MB at 8).
 */
export const CPU_DEFAULT_BATCH = 1;

/**
 * Models whose inference is nearly all of a worker's CPU (MogFace: 95–99 % of it), so onnxruntime gets
 * every usable core: decoding has little to take from them.
 */
export const INFERENCE_BOUND_MODELS: readonly string[] = ['mogface'];

/**
 * onnxruntime intra-op threads when `--threads` is not set. On a CPU: half the usable cores (at least
 * one) for RetinaFace and BlazeFace, whose decoding costs about as much as their inference, so the
 * other half decodes the next images and runs the event loop. Each intra-op thread past the first costs
 * CPU per image (RetinaFace 640², batch 1, 2 cores: 24 CPU ms per canvas on one thread, 30 with
 * onnxruntime's own choice of two), so a worker that also decodes gets more images per core from one
 * thread per two cores. Every usable core for the {@link INFERENCE_BOUND_MODELS} (MogFace tiny 640²,
 * batch 1: 247 CPU ms per canvas on two threads against 252 on one, at 1.8 × the rate). On a GPU: 0,
 * onnxruntime's choice, for the few nodes that fall back to the CPU.
 */
export function defaultInferenceThreads(providers: readonly string[], cores: number, model: string): number {
  if (prefersGpu(providers)) return 0;
  return INFERENCE_BOUND_MODELS.includes(model) ? Math.max(1, cores) : Math.max(1, Math.floor(cores / 2));
}

/** True when the preferred (first) provider runs on a GPU: `cuda` or `tensorrt`. */
export function prefersGpu(providers: readonly string[]): boolean {
  return (GPU_PROVIDERS as readonly string[]).includes(providers[0] ?? '');
}
