import { FacefleetError } from '../errors';

/** The longest key accepted, in UTF-8 bytes (S3's own limit). */
export const MAX_KEY_BYTES = 1024;

/** True when `text` holds a C0 control character (U+0000–U+001F) or DEL (U+007F). */
function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit <= 0x1f || unit === 0x7f) return true;
  }
  return false;
}

/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks that `key` is a safe object key: a non-empty, `/`-separated relative path that means the same
 * thing in a bucket and under a folder. Unicode is allowed.
 *
 * Rejected with `E_BAD_KEY`:
 * - the empty key;
 * - a leading `/` (absolute path);
 * - empty segments (`a//b`, or a trailing `/`);
 * - `.` or `..` segments (they would be resolved by a file system, never by S3);
 * - control characters U+0000–U+001F and U+007F;
 * - backslashes (a path separator on some systems);
 * - lone UTF-16 surrogates (not encodable as UTF-8);
 * - more than {@link MAX_KEY_BYTES} UTF-8 bytes.
 *
 * @param key - The key to check.
 * @throws FacefleetError `E_BAD_KEY`, with a message naming the rule that failed.
 */
export function validateKey(key: string): void {
  const reason = keyProblem(key);
  if (reason !== undefined) {
    throw new FacefleetError('E_BAD_KEY', `invalid object key ${JSON.stringify(truncate(key))}: ${reason}`);
  }
}

/**
 * Printable ASCII other than `\`, in `/`-separated segments none of which is empty, `.` or `..`: a key
 * that breaks no rule of {@link validateKey} (up to its length), recognised in one match instead of
 * rule by rule. Every manifest line and every job passes here.
 */
const PLAIN_KEY = /^(?!\.\.?(?:\/|$))[\x20-\x2e\x30-\x5b\x5d-\x7e]+(?:\/(?!\.\.?(?:\/|$))[\x20-\x2e\x30-\x5b\x5d-\x7e]+)*$/;

/** The first rule `key` breaks, or `undefined` when it is a valid key. */
function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string') return 'not a string';
  // One byte per character: the length is the UTF-8 length.
  if (key.length <= MAX_KEY_BYTES && PLAIN_KEY.test(key)) return undefined;
  if (key.length === 0) return 'empty';
  if (hasControlChar(key)) return 'contains a control character';
  if (key.includes('\\')) return 'contains a backslash';
  if (LONE_SURROGATE.test(key)) return 'contains an unpaired UTF-16 surrogate';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} UTF-8 bytes`;
  if (key.startsWith('/')) return 'starts with "/"';
  for (const segment of key.split('/')) {
    if (segment === '') return 'contains an empty path segment';
    if (segment === '.' || segment === '..') return `contains a "${segment}" path segment`;
  }
  return undefined;
}

/** Keeps error messages bounded for absurdly long keys. */
function truncate(key: unknown): unknown {
  return typeof key === 'string' && key.length > 200 ? `${key.slice(0, 200)}…` : key;
}
