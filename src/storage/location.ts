import { FacefleetError } from '../errors';
import { validateKey } from './key';

/** A parsed location URL: which store, and a key or key prefix inside it. */
export interface Location {
  /** `s3` for `s3://bucket/…`, `file` for `file:///…`. */
  scheme: 's3' | 'file';
  /** The bucket for `s3`; `''` for `file`. */
  bucket: string;
  /** The file-system root for `file` (always `/`); `''` for `s3`. */
  root: string;
  /**
   * The key or key prefix, without a leading `/`, taken verbatim (no percent-decoding, no `..`
   * resolution). `''` for the whole bucket or file system. A trailing `/` is kept: it marks a prefix.
   */
  key: string;
}

/** Bucket names accepted: S3's rules, relaxed to the legacy ones (upper case, `_`, up to 255 bytes). */
const BUCKET_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{1,253})[A-Za-z0-9]$/;

/**
 * Parses a location URL without WHATWG URL normalisation (which would silently resolve `..` and
 * percent-decode): `s3://bucket`, `s3://bucket/prefix/`, `s3://bucket/key`, `file:///abs/dir/`,
 * `file:///abs/file.jpg`. Schemes are case-insensitive; everything after the bucket (s3) or after
 * `file://` is taken verbatim, like the AWS CLI does.
 *
 * The key part must be a valid key per {@link validateKey} (a single trailing `/` is allowed).
 *
 * @param url - The location URL.
 * @throws FacefleetError `E_BAD_KEY` for an unknown scheme, an empty or invalid bucket, a `file:` URL
 * with a host or a relative path, or an invalid key part.
 */
export function parseLocation(url: string): Location {
  if (typeof url !== 'string') throw bad(url, 'not a string');
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (!schemeMatch) throw bad(url, 'no scheme (expected s3:// or file:///)');
  const scheme = schemeMatch[1].toLowerCase();
  const rest = url.slice(schemeMatch[0].length);
  if (scheme === 's3') return parseS3(url, rest);
  if (scheme === 'file') return parseFile(url, rest);
  throw bad(url, `unknown scheme "${schemeMatch[1]}" (expected s3 or file)`);
}

function parseS3(url: string, rest: string): Location {
  if (!rest.startsWith('//')) throw bad(url, 'expected s3://bucket/key');
  const afterSlashes = rest.slice(2);
  const slash = afterSlashes.indexOf('/');
  const bucket = slash === -1 ? afterSlashes : afterSlashes.slice(0, slash);
  const key = slash === -1 ? '' : afterSlashes.slice(slash + 1);
  if (bucket === '') throw bad(url, 'empty bucket name');
  if (!BUCKET_NAME.test(bucket)) throw bad(url, `invalid bucket name "${bucket}"`);
  checkKeyPart(url, key);
  return { scheme: 's3', bucket, root: '', key };
}

function parseFile(url: string, rest: string): Location {
  if (!rest.startsWith('///')) {
    throw bad(url, rest.startsWith('//') ? 'file URLs must not name a host (use file:///abs/path)' : 'expected file:///abs/path');
  }
  const key = rest.slice(3);
  checkKeyPart(url, key);
  return { scheme: 'file', bucket: '', root: '/', key };
}

/** The key part may be empty or end with one `/` (a prefix); otherwise it must be a valid key. */
function checkKeyPart(url: string, key: string): void {
  if (key === '') return;
  const body = key.endsWith('/') ? key.slice(0, -1) : key;
  try {
    validateKey(body);
  } catch (err) {
    throw new FacefleetError('E_BAD_KEY', `invalid location URL: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Joins a key prefix and a relative key with exactly one `/` between them: `joinKey('a/b/', 'c.jpg')`
 * and `joinKey('a/b', 'c.jpg')` give `a/b/c.jpg`; `joinKey('', 'c.jpg')` gives `c.jpg`. The result is
 * validated as a key.
 *
 * @param prefix - A key prefix, possibly empty, with or without a trailing `/`.
 * @param rel - A relative key; must not start with `/`.
 * @throws FacefleetError `E_BAD_KEY` when the joined key is invalid (`..`, empty segments, …).
 */
export function joinKey(prefix: string, rel: string): string {
  const joined = prefix === '' ? rel : prefix.endsWith('/') ? prefix + rel : `${prefix}/${rel}`;
  validateKey(joined);
  return joined;
}

/**
 * Formats a location back into its URL: `s3://bucket/key` or `file:///key`. The inverse of
 * {@link parseLocation}: `formatUrl(parseLocation(u))` is `u` up to the case of the scheme.
 *
 * @param location - `scheme`, `bucket` (s3 only) and `key` (may be empty).
 * @throws FacefleetError `E_BAD_KEY` for an s3 location without a bucket.
 */
export function formatUrl(location: Pick<Location, 'scheme' | 'key'> & Partial<Pick<Location, 'bucket'>>): string {
  if (location.scheme === 'file') return `file:///${location.key}`;
  if (!location.bucket) throw new FacefleetError('E_BAD_KEY', 'an s3 location needs a bucket');
  return location.key === '' ? `s3://${location.bucket}` : `s3://${location.bucket}/${location.key}`;
}

function bad(url: unknown, reason: string): FacefleetError {
  const shown = typeof url === 'string' && url.length > 200 ? `${url.slice(0, 200)}…` : url;
  return new FacefleetError('E_BAD_KEY', `invalid location URL ${JSON.stringify(shown)}: ${reason}`);
}
