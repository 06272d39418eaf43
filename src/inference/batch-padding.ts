import type { WireTensor } from './thread-protocol';

/**
 * Batch sizes at or below which a device session rounds up to the next power of two (1, 2, 4, 8);
 * above it, to the next multiple of it (16, 24, 32, …).
 */
export const BATCH_BUCKET_STEP = 8;

/**
 * The batch size a device session runs `rows` images as: the next of 1, 2, 4, 8, 16, 24, 32, … (see
 * {@link BATCH_BUCKET_STEP}), but never more than `capacity` rows (what the input buffer holds) and
 * never fewer than `rows`.
 *
 * On CUDA every new input shape costs once: cuDNN searches for its convolution algorithms (exhaustively:
 * onnxruntime-node cannot change the CUDA provider's `cudnn_conv_algo_search`) and onnxruntime plans
 * its memory pattern again. Partial batches of every size from 1 to the batch would each pay that;
 * rounding them to a few sizes bounds it to a handful of shapes per canvas.
 */
export function paddedBatchSize(rows: number, capacity: number): number {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows must be an integer ≥ 1, got ${rows}`);
  let bucket = 1;
  while (bucket < rows && bucket < BATCH_BUCKET_STEP) bucket *= 2;
  if (bucket < rows) bucket = Math.ceil(rows / BATCH_BUCKET_STEP) * BATCH_BUCKET_STEP;
  return Math.max(rows, Math.min(bucket, capacity));
}

/** Feeds ready for `session.run`, and how many of their rows are real images. */
export interface PaddedFeeds {
  feeds: Record<string, WireTensor>;
  /** Images in the batch as the caller sent it. */
  rows: number;
  /** Rows the session computes (`rows` when nothing was padded). */
  ranRows: number;
}

/** Elements of one batch row of a tensor with these dims (the product of all but the first). */
function rowSize(dims: readonly number[]): number {
  return dims.slice(1).reduce((n, d) => n * d, 1);
}

/**
 * Pads a batch to {@link paddedBatchSize} without copying: each input becomes a longer view of the
 * buffer it already lives in (the engine packs into buffers sized for a full batch). The extra rows
 * hold whatever the buffer held before: they are computed and thrown away by {@link trimOutputs}, which
 * is sound for graphs whose batch rows are independent (every facefleet detector's are). Feeds are
 * left as they are when the inputs disagree on the batch size, have no batch axis, or their buffers
 * hold no room beyond the batch.
 */
export function padFeeds(feeds: Record<string, WireTensor>): PaddedFeeds {
  const tensors = Object.values(feeds);
  const rows = tensors[0]?.dims[0];
  const unchanged = { feeds, rows: rows ?? 0, ranRows: rows ?? 0 };
  if (rows === undefined || rows < 1 || tensors.some((t) => t.dims.length < 2 || t.dims[0] !== rows)) return unchanged;
  const capacity = Math.min(...tensors.map((t) => Math.floor((t.data.buffer.byteLength - t.data.byteOffset) / t.data.BYTES_PER_ELEMENT / Math.max(1, rowSize(t.dims)))));
  const ranRows = paddedBatchSize(rows, capacity);
  if (ranRows === rows) return unchanged;
  const padded: Record<string, WireTensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    padded[name] = { data: new Float32Array(t.data.buffer, t.data.byteOffset, ranRows * rowSize(t.dims)), dims: [ranRows, ...t.dims.slice(1)] };
  }
  return { feeds: padded, rows, ranRows };
}

/**
 * The outputs of a padded run cut back to the caller's `rows`: every output whose first axis is
 * `ranRows` becomes a view of its first `rows` rows (same buffer, no copy); others are kept as they are.
 */
export function trimOutputs<T extends { data: Float32Array; dims: number[] }>(outputs: Record<string, T>, rows: number, ranRows: number): Record<string, T> {
  if (rows === ranRows) return outputs;
  const out: Record<string, T> = {};
  for (const [name, t] of Object.entries(outputs)) {
    out[name] = t.dims[0] === ranRows ? { ...t, data: t.data.subarray(0, rows * rowSize(t.dims)), dims: [rows, ...t.dims.slice(1)] } : t;
  }
  return out;
}
