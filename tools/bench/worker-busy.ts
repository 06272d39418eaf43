import type { ResourceBusy } from './cpu-limit';

/** The busy-time counters a `facefleet worker` exports, read from one scrape of its `/metrics`. */
export interface BusyCounters {
  /** `facefleet_inference_busy_seconds_total`, summed over models. */
  inferenceS: number;
  /** `facefleet_decode_busy_seconds_total`, summed over models. */
  decodeS: number;
  /** `facefleet_decode_slots` (the largest, where several models report). */
  decodeSlots: number;
  /** `facefleet_event_loop_busy_seconds_total`. */
  eventLoopS: number;
}

/** Sums of each metric in Prometheus text exposition: `name{labels} value` lines, comments skipped. */
export function parseMetricSums(text: string): Map<string, { sum: number; max: number }> {
  const out = new Map<string, { sum: number; max: number }>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[2]);
    if (!Number.isFinite(value)) continue;
    const seen = out.get(m[1]);
    out.set(m[1], seen ? { sum: seen.sum + value, max: Math.max(seen.max, value) } : { sum: value, max: value });
  }
  return out;
}

/** The busy counters in a scrape's text; `null` when the worker exports none of them. */
export function busyCounters(text: string): BusyCounters | null {
  const sums = parseMetricSums(text);
  const inference = sums.get('facefleet_inference_busy_seconds_total');
  const decode = sums.get('facefleet_decode_busy_seconds_total');
  const slots = sums.get('facefleet_decode_slots');
  const loop = sums.get('facefleet_event_loop_busy_seconds_total');
  if (!inference || !decode || !slots || !loop) return null;
  return { inferenceS: inference.sum, decodeS: decode.sum, decodeSlots: slots.max, eventLoopS: loop.sum };
}

/** Scrapes one worker's metrics server on loopback; `null` when it does not answer or lacks the counters. */
export async function scrapeBusy(port: number): Promise<BusyCounters | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? busyCounters(await res.text()) : null;
  } catch {
    return null;
  }
}

/**
 * Shares of `wallMs` each worker's inference thread, decode slots and main thread were busy between
 * two scrapes, averaged over the workers (each worker has its own of each). A worker missing from
 * either scrape leaves the shares unknown.
 */
export function busyShares(before: ReadonlyArray<BusyCounters | null>, after: ReadonlyArray<BusyCounters | null>, wallMs: number): ResourceBusy | null {
  if (wallMs <= 0 || before.length === 0 || before.length !== after.length) return null;
  let inference = 0;
  let decode = 0;
  let loop = 0;
  for (let i = 0; i < before.length; i++) {
    const a = before[i];
    const b = after[i];
    if (!a || !b) return null;
    inference += (b.inferenceS - a.inferenceS) * 1000;
    decode += ((b.decodeS - a.decodeS) * 1000) / Math.max(1, b.decodeSlots);
    loop += (b.eventLoopS - a.eventLoopS) * 1000;
  }
  const share = (ms: number) => Math.round((ms / before.length / wallMs) * 1000) / 1000;
  return { inferenceThread: share(inference), decodeSlots: share(decode), mainThread: share(loop) };
}
