import fs from 'node:fs';
import { FacefleetError } from '../errors';
import { joinKey, parseLocation } from '../storage/location';
import { keyResolver, SourceKey, withoutDotSlash } from './key-sources';

/** Longest manifest line accepted, bytes: a source URL and a key are at most a few KiB. */
export const MAX_MANIFEST_LINE_BYTES = 64 * 1024;

/**
 * Bytes read from a manifest at a time: about a chunk of lines (a thousand of 60 bytes), parsed in
 * one go; the keys parsed wait no longer than one chunk for their `addBulk`.
 */
export const MANIFEST_READ_BYTES = 64 * 1024;

/**
 * Keys from a manifest, streamed line by line (`-` reads stdin): plain lines (one key or URL per
 * line), JSONL (objects with a `key` or `source` field) or CSV with a header holding a `key` column.
 * Blank lines and `#` comments are ignored. Relative keys resolve against `base`. The keys of
 * {@link manifestBatches}, one at a time.
 */
export async function* fromManifest(file: string, base: string): AsyncGenerator<SourceKey> {
  for await (const batch of manifestBatches(file, base)) yield* batch;
}

/**
 * The keys of a manifest as {@link fromManifest} reads them, a batch per read of the file (a few
 * thousand keys): what `enqueueRun` takes without paying for an async step per key. A bad line fails
 * after the keys before it are handed on, as with {@link fromManifest}.
 */
export async function* manifestBatches(file: string, base: string): AsyncGenerator<SourceKey[]> {
  const lines = new ManifestLines(file);
  const parser = new ManifestParser(file, base);
  for await (const data of openManifest(file)) {
    const { keys, error } = parser.parse(lines.push(data));
    if (keys.length > 0) yield keys;
    if (error !== undefined) throw error;
  }
  const { keys, error } = parser.parse(lines.end());
  if (keys.length > 0) yield keys;
  if (error !== undefined) throw error;
}

/** The bytes of a manifest (`-`: stdin), in reads of about {@link MANIFEST_READ_BYTES}. */
export function openManifest(file: string): AsyncIterable<Buffer | string> {
  return file === '-' ? process.stdin : fs.createReadStream(file, { highWaterMark: MANIFEST_READ_BYTES });
}

/** Lines of a manifest split from one read, the number of the first (from 1), and why splitting stopped after them. */
export interface LineBlock {
  lines: string[];
  firstLineNo: number;
  /** The line after `lines` is longer than {@link MAX_MANIFEST_LINE_BYTES}: nothing more is read. */
  error?: FacefleetError;
}

/**
 * Splits the reads of a manifest into lines (`\n` or `\r\n`; a line's `\r` is left to the parser's
 * trim), each at most {@link MAX_MANIFEST_LINE_BYTES} bytes: a manifest without line breaks (a binary
 * file, a wrong path) fails at once instead of being buffered whole. A read is decoded in one go, up
 * to its last line break (which never falls inside a UTF-8 sequence); the bytes after it wait for the
 * next read.
 */
export class ManifestLines {
  private pending: Buffer | undefined;
  private lineNo = 0;
  private failed: FacefleetError | undefined;

  constructor(private readonly file: string) {}

  /** The lines ended by this read (none when it holds no line break). */
  push(data: Buffer | string): LineBlock {
    if (this.failed) return { lines: [], firstLineNo: this.lineNo + 1, error: this.failed };
    const read = typeof data === 'string' ? Buffer.from(data) : data;
    const last = read.lastIndexOf(0x0a);
    if (last === -1) {
      this.pending = this.pending ? Buffer.concat([this.pending, read]) : read;
      return this.pending.length > MAX_MANIFEST_LINE_BYTES ? this.fail([], this.lineNo + 1) : { lines: [], firstLineNo: this.lineNo + 1 };
    }
    const head = this.pending ? Buffer.concat([this.pending, read.subarray(0, last)]) : read.subarray(0, last);
    this.pending = last + 1 < read.length ? read.subarray(last + 1) : undefined;
    const lines = head.toString('utf8').split('\n');
    const firstLineNo = this.lineNo + 1;
    const over = head.length > MAX_MANIFEST_LINE_BYTES ? firstLongLine(head, lines) : -1;
    if (over >= 0) return this.fail(lines.slice(0, over), firstLineNo + over);
    this.lineNo += lines.length;
    if (this.pending && this.pending.length > MAX_MANIFEST_LINE_BYTES) return { ...this.fail([], this.lineNo + 1), lines, firstLineNo };
    return { lines, firstLineNo };
  }

  /** The last line, when the manifest does not end with a line break. */
  end(): LineBlock {
    if (this.failed) return { lines: [], firstLineNo: this.lineNo + 1, error: this.failed };
    const lines = this.pending ? [this.pending.toString('utf8')] : [];
    this.pending = undefined;
    return { lines, firstLineNo: this.lineNo + 1 };
  }

  private fail(lines: string[], lineNo: number): LineBlock {
    this.failed = new FacefleetError('E_BAD_JOB', `${this.file}:${lineNo}: line longer than ${MAX_MANIFEST_LINE_BYTES} bytes`);
    return { lines, firstLineNo: lineNo - lines.length, error: this.failed };
  }
}

/**
 * The index of the first of `lines` (decoded from `head`, split at its line breaks) longer than
 * {@link MAX_MANIFEST_LINE_BYTES} bytes, or -1. A line of n UTF-16 units took at most 3n bytes, so
 * only a line longer than a third of the limit is measured, in `head` itself (the decoded text may
 * hold replacement characters of a different length than the bytes they replace).
 */
function firstLongLine(head: Buffer, lines: readonly string[]): number {
  if (!lines.some((l) => l.length * 3 > MAX_MANIFEST_LINE_BYTES)) return -1;
  for (let i = 0, start = 0; i < lines.length; i++) {
    const nl = head.indexOf(0x0a, start);
    const end = nl === -1 ? head.length : nl;
    if (end - start > MAX_MANIFEST_LINE_BYTES) return i;
    start = end + 1;
  }
  return -1;
}

/** The keys of a block of manifest lines, and the error that stopped them (the keys are those before it). */
export interface ParsedLines {
  keys: SourceKey[];
  error?: unknown;
}

/**
 * Turns manifest lines into keys: plain lines, JSONL objects with `key` and/or `source`, or CSV with
 * a `key` column named by the header on line 1 of a `.csv` file; blank lines and `#` comments are
 * skipped. A bad line stops the manifest (`E_BAD_JOB` naming the file and line, `E_BAD_KEY` for a
 * key refused), after the keys before it.
 */
export class ManifestParser {
  private readonly resolve: (arg: string) => SourceKey;
  private readonly csv: boolean;
  private csvColumn = -1;
  private failed: unknown;

  constructor(
    private readonly file: string,
    base: string,
  ) {
    this.resolve = keyResolver(base);
    this.csv = /\.csv$/i.test(file);
  }

  /** The keys of `block`; its error (or one of its lines) comes back after the keys before it. */
  parse(block: LineBlock): ParsedLines {
    if (this.failed !== undefined) return { keys: [], error: this.failed };
    const keys: SourceKey[] = [];
    try {
      for (let i = 0; i < block.lines.length; i++) {
        const key = this.line(block.lines[i].trim(), block.firstLineNo + i);
        if (key) keys.push(key);
      }
    } catch (err) {
      this.failed = err;
      return { keys, error: err };
    }
    if (block.error) this.failed = block.error;
    return block.error ? { keys, error: block.error } : { keys };
  }

  private line(line: string, lineNo: number): SourceKey | undefined {
    if (line === '' || line.startsWith('#')) return undefined;
    if (lineNo === 1 && this.csv) {
      this.csvColumn = line
        .split(',')
        .map((h) => h.trim().replace(/^"|"$/g, ''))
        .indexOf('key');
      if (this.csvColumn < 0) throw new FacefleetError('E_BAD_JOB', `${this.file}: the CSV header has no "key" column`);
      return undefined;
    }
    let value: unknown = line;
    if (this.csvColumn >= 0) value = line.split(',')[this.csvColumn]?.trim().replace(/^"|"$/g, '');
    else if (line.startsWith('{')) {
      let obj: { key?: unknown; source?: unknown };
      try {
        obj = JSON.parse(line) as { key?: unknown; source?: unknown };
      } catch {
        throw new FacefleetError('E_BAD_JOB', `${this.file}:${lineNo}: not valid JSON`);
      }
      // A line with both a source URL and a key (as `facefleet failed export` writes) keeps both.
      if (typeof obj.source === 'string' && typeof obj.key === 'string') {
        parseLocation(obj.source);
        return { source: obj.source, key: joinKey('', withoutDotSlash(obj.key)) };
      }
      value = obj.source ?? obj.key;
    }
    if (typeof value !== 'string' || value === '') throw new FacefleetError('E_BAD_JOB', `${this.file}:${lineNo}: no key`);
    return this.resolve(value);
  }
}
