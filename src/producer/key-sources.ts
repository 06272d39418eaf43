import fs from 'node:fs';
import { FacefleetError } from '../errors';
import { formatUrl, joinKey, parseLocation } from '../storage/location';
import type { StoreRegistry } from '../storage/store-registry';

/** One image to enqueue: its URL and its result name relative to the results location. */
export interface SourceKey {
  source: string;
  key: string;
}

/** File extensions treated as images when listing a prefix. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.avif', '.heic', '.heif', '.tif', '.tiff', '.gif'];

/** True when the key ends with an image extension (case-insensitive). */
export function isImageKey(key: string, extensions: readonly string[] = IMAGE_EXTENSIONS): boolean {
  const lower = key.toLowerCase();
  return extensions.some((ext) => lower.endsWith(ext));
}

/**
 * Resolves an argument to a source: a full URL (`s3://…`, `file:///…`) keeps its object key as the
 * result name; anything else is a key relative to `base` (a location URL ending in `/`). A leading
 * `./` of a relative key is dropped, as `find .` prints its paths; `..` and inner `.` segments are
 * still refused (`E_BAD_KEY`).
 */
export function toSourceKey(arg: string, base: string): SourceKey {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(arg)) return { source: arg, key: parseLocation(arg).key };
  const loc = parseLocation(base);
  const key = withoutDotSlash(arg);
  return { source: formatUrl({ ...loc, key: joinKey(loc.key, key) }), key: joinKey('', key) };
}

/** `./a/b.jpg` → `a/b.jpg` (also `././a`); any other key unchanged. */
export function withoutDotSlash(key: string): string {
  return key.replace(/^(\.\/+)+/, '');
}

/** Every image object under a prefix URL, lazily, named relative to the prefix. */
export async function* fromPrefix(stores: StoreRegistry, prefixUrl: string, extensions: readonly string[] = IMAGE_EXTENSIONS): AsyncGenerator<SourceKey> {
  const url = prefixUrl.endsWith('/') ? prefixUrl : `${prefixUrl}/`;
  const { store, key: prefix } = stores.resolve(url);
  const loc = parseLocation(url);
  for await (const entry of store.list(prefix)) {
    if (!isImageKey(entry.key, extensions)) continue;
    yield { source: formatUrl({ ...loc, key: entry.key }), key: entry.key.slice(prefix.length) };
  }
}

/**
 * Keys from a manifest, streamed line by line (`-` reads stdin): plain lines (one key or URL per
 * line), JSONL (objects with a `key` or `source` field) or CSV with a header holding a `key` column.
 * Blank lines and `#` comments are ignored. Relative keys resolve against `base`.
 */
export async function* fromManifest(file: string, base: string): AsyncGenerator<SourceKey> {
  const input = file === '-' ? process.stdin : fs.createReadStream(file);
  const lines = cappedLines(input, file);
  let csvColumn = -1;
  let lineNo = 0;
  for await (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (lineNo === 1 && /\.csv$/i.test(file)) {
      csvColumn = line.split(',').map((h) => h.trim().replace(/^"|"$/g, '')).indexOf('key');
      if (csvColumn < 0) throw new FacefleetError('E_BAD_JOB', `${file}: the CSV header has no "key" column`);
      continue;
    }
    let value: unknown = line;
    if (csvColumn >= 0) value = line.split(',')[csvColumn]?.trim().replace(/^"|"$/g, '');
    else if (line.startsWith('{')) {
      let obj: { key?: unknown; source?: unknown };
      try {
        obj = JSON.parse(line) as { key?: unknown; source?: unknown };
      } catch {
        throw new FacefleetError('E_BAD_JOB', `${file}:${lineNo}: not valid JSON`);
      }
      // A line with both a source URL and a key (as `facefleet failed export` writes) keeps both.
      if (typeof obj.source === 'string' && typeof obj.key === 'string') {
        parseLocation(obj.source);
        yield { source: obj.source, key: joinKey('', withoutDotSlash(obj.key)) };
        continue;
      }
      value = obj.source ?? obj.key;
    }
    if (typeof value !== 'string' || value === '') throw new FacefleetError('E_BAD_JOB', `${file}:${lineNo}: no key`);
    yield toSourceKey(value, base);
  }
}

/** Longest manifest line accepted, bytes: a source URL and a key are at most a few KiB. */
export const MAX_MANIFEST_LINE_BYTES = 64 * 1024;

/**
 * The lines of a stream (`\n` or `\r\n`), each at most {@link MAX_MANIFEST_LINE_BYTES}: a manifest
 * without line breaks (a binary file, a wrong path) fails at once instead of being buffered whole.
 */
async function* cappedLines(input: NodeJS.ReadableStream, file: string): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  const tooLong = () => new FacefleetError('E_BAD_JOB', `${file}:${lineNo + 1}: line longer than ${MAX_MANIFEST_LINE_BYTES} bytes`);
  const take = (tail: Buffer): string => {
    const line = Buffer.concat([...pending, tail]).toString('utf8');
    pending = [];
    pendingBytes = 0;
    lineNo++;
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  };
  for await (const data of input) {
    let chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a)) {
      if (pendingBytes + nl > MAX_MANIFEST_LINE_BYTES) throw tooLong();
      yield take(chunk.subarray(0, nl));
      chunk = chunk.subarray(nl + 1);
    }
    pendingBytes += chunk.length;
    if (pendingBytes > MAX_MANIFEST_LINE_BYTES) throw tooLong();
    if (chunk.length > 0) pending.push(chunk);
  }
  if (pendingBytes > 0) yield take(Buffer.alloc(0));
}

/** Keys given on the command line. */
export async function* fromArgs(args: readonly string[], base: string): AsyncGenerator<SourceKey> {
  for (const a of args) yield toSourceKey(a, base);
}
