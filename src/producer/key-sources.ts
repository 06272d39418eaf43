import { MAX_KEY_BYTES, validateKey } from '../storage/key';
import { formatUrl, joinKey, Location, parseLocation } from '../storage/location';
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

/** A location URL's scheme as it starts a full-URL argument: `s3://`, `file://`. */
const URL_ARG = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Resolves an argument to a source: a full URL (`s3://…`, `file:///…`) keeps its object key as the
 * result name; anything else is a key relative to `base` (a location URL ending in `/`). A leading
 * `./` of a relative key is dropped, as `find .` prints its paths; `..` and inner `.` segments are
 * still refused (`E_BAD_KEY`).
 */
export function toSourceKey(arg: string, base: string): SourceKey {
  return keyResolver(base)(arg);
}

/**
 * {@link toSourceKey} against one base, parsed once (on the first relative key) instead of once per
 * key: what a manifest of millions of lines resolves its keys with. Each relative key is validated
 * once; the key joined to the base is then valid too (the base's prefix is a valid key ending in `/`),
 * up to its length, which is checked.
 */
export function keyResolver(base: string): (arg: string) => SourceKey {
  let loc: Location | undefined;
  let prefix = '';
  let prefixBytes = 0;
  /** What the source URL of every key under the base starts with: `formatUrl` puts the key last, verbatim. */
  let head = '';
  return (arg) => {
    if (arg.includes('://') && URL_ARG.test(arg)) return { source: arg, key: parseLocation(arg).key };
    if (loc === undefined) {
      loc = parseLocation(base);
      prefix = loc.key === '' || loc.key.endsWith('/') ? loc.key : `${loc.key}/`;
      prefixBytes = Buffer.byteLength(prefix);
      head = formatUrl({ ...loc, key: `${prefix}-` }).slice(0, -1);
    }
    const key = arg.startsWith('./') ? withoutDotSlash(arg) : arg;
    try {
      validateKey(key);
    } catch (err) {
      // The joined key is invalid too: its error is the one a key has always been refused with.
      joinKey(loc.key, key);
      throw err;
    }
    // Over the limit only once joined: joinKey throws the error naming the joined key. A UTF-16 unit
    // takes at most 3 bytes, so a short key is not measured.
    const long = prefixBytes + 3 * key.length > MAX_KEY_BYTES && prefixBytes + Buffer.byteLength(key) > MAX_KEY_BYTES;
    if (long) joinKey(loc.key, key);
    return { source: head + key, key };
  };
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

/** Keys given on the command line. */
export async function* fromArgs(args: readonly string[], base: string): AsyncGenerator<SourceKey> {
  const resolve = keyResolver(base);
  for (const a of args) yield resolve(a);
}
