import { padFeeds, trimOutputs } from './batch-padding';
import type { WireTensor } from './thread-protocol';

/** A tensor as onnxruntime returns it: typed data and dims. */
export interface SessionTensor {
  data: unknown;
  dims: readonly number[];
}

/** Runs feeds on the session (in the inference thread: wraps them as `ort.Tensor`s and calls `session.run`). */
export type RunFeeds = (feeds: Record<string, WireTensor>) => Promise<Record<string, SessionTensor>>;

/** What one batch produced, ready to post to the main thread. */
export interface BatchRunOutput {
  outputs: Record<string, WireTensor>;
  /** Buffers to transfer with the result: the outputs' and the inputs', each once. */
  transfer: ArrayBuffer[];
  /** Rows the session computed: the batch's own, or more when it was padded. */
  ranRows: number;
}

/** Settings of {@link runBatch}. */
export interface BatchRunOptions {
  /**
   * Round the batch up to a padded size (see `paddedBatchSize`) and cut the outputs back: for device
   * sessions, where each new input shape costs an algorithm search. Off for CPU sessions, whose cost
   * grows with every row computed. @defaultValue false
   */
  padBatches?: boolean;
}

/**
 * One batch through the session: optionally padded to a bucketed batch size, outputs cut back to the
 * batch's own rows, and the list of buffers to hand back (outputs, and the inputs so the caller can pack
 * its next batch into them).
 */
export async function runBatch(run: RunFeeds, feeds: Record<string, WireTensor>, options: BatchRunOptions = {}): Promise<BatchRunOutput> {
  const rows = Object.values(feeds)[0]?.dims[0] ?? 0;
  const padded = options.padBatches ? padFeeds(feeds) : { feeds, rows, ranRows: rows };
  const result = await run(padded.feeds);
  let outputs: Record<string, WireTensor> = {};
  for (const [name, tensor] of Object.entries(result)) outputs[name] = { data: tensor.data as Float32Array, dims: [...tensor.dims] };
  outputs = trimOutputs(outputs, padded.rows, padded.ranRows);
  const transfer = new Set<ArrayBuffer>();
  for (const t of Object.values(outputs)) transfer.add(t.data.buffer as ArrayBuffer);
  for (const t of Object.values(feeds)) transfer.add(t.data.buffer as ArrayBuffer);
  return { outputs, transfer: [...transfer], ranRows: padded.ranRows };
}
