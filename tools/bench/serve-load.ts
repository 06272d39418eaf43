import type { Logger } from 'pino';
import type { ServeConfig } from '../../src/config/serve-config';
import { startServe } from '../../src/serve/start-serve';

/** A server started for a load measurement. */
export interface LoadTarget {
  url: string;
  close(): Promise<void>;
}

/** Settings of {@link measureServeLoad}. */
export interface ServeLoadOptions {
  /** Starts a server with dynamic batching on (the configured batch) or off (one image per `session.run`). */
  start: (batching: boolean) => Promise<LoadTarget>;
  /** Request bodies, sent in turn. */
  images: ReadonlyArray<{ body: Buffer; type: string }>;
  /** Callers sending at once (closed loop: each sends its next request when the last is answered). @defaultValue [1, 8, 32] */
  concurrencies?: readonly number[];
  /** Measured time per row, ms. @defaultValue 10000 */
  durationMs?: number;
  /** Unmeasured load before each row, ms. @defaultValue 1000 */
  warmupMs?: number;
  /** Bearer token, when the servers require one. */
  token?: string;
  /** Called after each row. */
  onRow?: (row: ServeLoadRow) => void;
}

/** One measurement: a batching mode at one concurrency. */
export interface ServeLoadRow {
  batching: boolean;
  concurrency: number;
  /** Answered with 200 during the measured time. */
  requests: number;
  /** Answered otherwise, or failed. */
  errors: number;
  /** Requests per second. */
  rps: number;
  /** Latency percentiles, ms (client side: send to last byte). */
  p50Ms: number;
  p95Ms: number;
  /** Mean `timings.batchSize` of the answers: how many images shared a `session.run`. */
  meanBatch: number;
}

/**
 * The serve load figure: requests/s and p50/p95 latency at each concurrency, with dynamic batching on
 * and off, each mode on a fresh server. A figure for the benchmark, not a pass/fail test.
 */
export async function measureServeLoad(options: ServeLoadOptions): Promise<ServeLoadRow[]> {
  if (options.images.length === 0) throw new Error('measureServeLoad: no images');
  const rows: ServeLoadRow[] = [];
  for (const batching of [true, false]) {
    const target = await options.start(batching);
    try {
      for (const concurrency of options.concurrencies ?? [1, 8, 32]) {
        await drive(target.url, options, concurrency, options.warmupMs ?? 1000);
        const row = { batching, concurrency, ...(await drive(target.url, options, concurrency, options.durationMs ?? 10_000)) };
        rows.push(row);
        options.onRow?.(row);
      }
    } finally {
      await target.close();
    }
  }
  return rows;
}

/** Closed-loop load from `concurrency` callers for `ms`. */
async function drive(url: string, options: ServeLoadOptions, concurrency: number, ms: number): Promise<Omit<ServeLoadRow, 'batching' | 'concurrency'>> {
  const latencies: number[] = [];
  let errors = 0;
  let batchSum = 0;
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + ms;
  const caller = async () => {
    while (performance.now() < deadline) {
      const image = options.images[next++ % options.images.length];
      const start = performance.now();
      try {
        const res = await fetch(`${url}/v1/detect`, {
          method: 'POST',
          body: image.body,
          headers: { 'content-type': image.type, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
        });
        const body = (await res.json()) as { timings?: { batchSize?: number } };
        if (res.status === 200) {
          latencies.push(performance.now() - start);
          batchSum += body.timings?.batchSize ?? 1;
        } else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    rps: round(latencies.length / seconds),
    p50Ms: round(percentile(latencies, 0.5)),
    p95Ms: round(percentile(latencies, 0.95)),
    meanBatch: round(latencies.length ? batchSum / latencies.length : 0),
  };
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/**
 * Starts `facefleet serve` servers for {@link measureServeLoad} from a config: on loopback, any free
 * port, no console, admission wide enough for the load; batching off means `batch: 1, maxWaitMs: 0`.
 */
export function serveLoadStarter(config: Readonly<ServeConfig>, log: Logger, maxConcurrency: number): (batching: boolean) => Promise<LoadTarget> {
  return async (batching) => {
    const server = await startServe(
      Object.freeze({
        ...config,
        host: '127.0.0.1',
        loopback: true,
        port: 0,
        console: false,
        maxInFlight: Math.max(config.maxInFlight, maxConcurrency),
        maxQueue: Math.max(config.maxQueue, maxConcurrency),
        ...(batching ? {} : { batch: 1, maxWaitMs: 0 }),
      }),
      log,
      { handleSignals: false },
    );
    return { url: server.url, close: async () => void (await server.lifecycle.close()) };
  };
}

/** The rows side by side: one line per concurrency, batching on and off. */
export function formatServeLoad(rows: readonly ServeLoadRow[]): string {
  const cell = (r: ServeLoadRow | undefined) => (r ? `${r.rps.toFixed(1).padStart(8)} ${r.p50Ms.toFixed(1).padStart(8)} ${r.p95Ms.toFixed(1).padStart(8)} ${r.meanBatch.toFixed(2).padStart(6)}` : ' '.repeat(33));
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))];
  const lines = [
    `serve: POST /v1/detect, closed loop${rows.some((r) => r.errors > 0) ? ' (errors: see rows)' : ''}`,
    `${'callers'.padStart(7)} | ${'batching on'.padEnd(33)} | ${'batching off'.padEnd(33)}`,
    `${''.padStart(7)} | ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'batch'.padStart(6)} | ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'batch'.padStart(6)}`,
  ];
  for (const c of concurrencies) {
    const on = rows.find((r) => r.batching && r.concurrency === c);
    const off = rows.find((r) => !r.batching && r.concurrency === c);
    lines.push(`${String(c).padStart(7)} | ${cell(on)} | ${cell(off)}${(on?.errors ?? 0) + (off?.errors ?? 0) > 0 ? `  errors ${on?.errors ?? 0}/${off?.errors ?? 0}` : ''}`);
  }
  return lines.join('\n');
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
