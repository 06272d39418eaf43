import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/telemetry/logger';

/** A facefleet logger whose lines a test reads back: `lines` parsed, `text` as written. */
export interface CapturedLog {
  log: Logger;
  /** Every line written so far, parsed. */
  lines: Array<Record<string, unknown>>;
  /** Every line written so far, as text. */
  text: string[];
}

/** A logger (the product's, redaction included) writing into memory at `level`. */
export function captureLog(level = 'info'): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (!l) continue;
        text.push(l);
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines, text };
}
