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

/** True when the preferred (first) provider runs on a GPU: `cuda` or `tensorrt`. */
export function prefersGpu(providers: readonly string[]): boolean {
  return (GPU_PROVIDERS as readonly string[]).includes(providers[0] ?? '');
}
