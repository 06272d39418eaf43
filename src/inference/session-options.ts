import type { InferenceSession } from 'onnxruntime-node';
import type { SessionThreadConfig } from './thread-protocol';

/** How onnxruntime schedules the graph's nodes: one after another, or independent branches at once. */
export type ExecutionMode = NonNullable<SessionThreadConfig['executionMode']>;

/**
 * The execution mode a session gets when its thread config names none: nodes one after another, each
 * parallelised inside by the intra-op pool. In this mode onnxruntime creates no inter-op pool, so
 * `interOpThreads` has no effect.
 */
export const DEFAULT_EXECUTION_MODE: ExecutionMode = 'sequential';

/**
 * The onnxruntime session options every facefleet session uses, execution providers aside: full graph
 * optimisation, the configured thread counts, the configured execution mode ({@link DEFAULT_EXECUTION_MODE}
 * unless `executionMode` says otherwise; `interOpThreads` sizes the pool of the parallel mode), and
 * pool threads that block instead of spinning between parallel sections unless `allowSpinning`
 * (`--ort-allow-spinning`).
 */
export function baseSessionOptions(config: Pick<SessionThreadConfig, 'intraOpThreads' | 'interOpThreads' | 'allowSpinning' | 'executionMode'>): InferenceSession.SessionOptions {
  const spin = config.allowSpinning ? '1' : '0';
  return {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: config.intraOpThreads,
    interOpNumThreads: config.interOpThreads,
    executionMode: config.executionMode ?? DEFAULT_EXECUTION_MODE,
    // onnxruntime's pool threads busy-wait after every parallel section by default. In a worker, sharp
    // decodes the next images on the same cores while a batch runs, and pods share cores under CPU
    // limits: spinning burns that time. Measured with `facefleet bench` on 2 cores (docs/benchmarks.md):
    // blocking instead of spinning raised in-process throughput and never lowered the ceiling.
    // --ort-allow-spinning restores onnxruntime's default (for that comparison, or a GPU box).
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}
