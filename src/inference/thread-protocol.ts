/** Settings the inference thread starts with. */
export interface SessionThreadConfig {
  /** Absolute path of the ONNX file. */
  modelPath: string;
  /** Threads inside one operator (ORT intra-op). 0 lets ORT choose. */
  intraOpThreads: number;
  /** Threads across operators (ORT inter-op): the pool of the `parallel` execution mode, unused in `sequential`. */
  interOpThreads: number;
  /** Run independent nodes of the graph at once (`parallel`) or one after another. @defaultValue `'sequential'` */
  executionMode?: 'sequential' | 'parallel';
  /** Let the pool threads busy-wait between parallel sections (onnxruntime's default) instead of blocking. @defaultValue false */
  allowSpinning?: boolean;
  /** Execution providers in order of preference, e.g. `['cpu']` or `['cuda']`. */
  providers: string[];
  /** With a non-CPU provider that cannot load: fall back to CPU instead of failing. */
  allowCpuFallback: boolean;
}

/** A tensor crossing the thread boundary (its buffer is transferred, not copied). */
export interface WireTensor {
  data: Float32Array;
  dims: number[];
}

/** Messages from the main thread (`exit`: end the thread now, between runs, without releasing the session). */
export type ToThread = { type: 'run'; id: number; feeds: Record<string, WireTensor> } | { type: 'close' } | { type: 'exit' };

/**
 * Messages from the inference thread. `ready.device`: the session runs on a device provider (CUDA,
 * TensorRT), not on CPU or a CPU fallback, whose reason is `fallbackReason`. `result.ranRows`: rows the
 * session computed, more than the batch's own when a device run was padded (the outputs hold the
 * batch's own rows only).
 */
export type FromThread =
  | { type: 'ready'; inputNames: string[]; outputNames: string[]; provider: string; device: boolean; fallbackReason?: string; loadMs: number }
  | { type: 'start-failed'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor>; inputs: Record<string, WireTensor>; ranRows: number; runMs: number }
  | { type: 'run-failed'; id: number; message: string }
  | { type: 'closed' };
