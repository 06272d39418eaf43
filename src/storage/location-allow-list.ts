import { FacefleetError } from '../errors';
import { Location, parseLocation } from './location';

/** The allowed location a URL falls under, from {@link LocationAllowList.match}. */
export interface AllowedMatch {
  /** The allow-list entry, parsed (its key without a trailing `/`). */
  entry: Location;
  /** The URL's key relative to the entry's key: `''` for the entry itself, else without a leading `/`. */
  rest: string;
}

/**
 * A set of allowed locations (`s3://bucket`, `s3://bucket/prefix`, `file:///abs/dir`) and the one test
 * every caller uses: a URL is allowed when it has an entry's scheme, exactly its bucket, and a key
 * whose `/`-separated segments begin with all of the entry's segments. So `s3://photos` allows
 * `s3://photos/a.jpg` but not `s3://photos-private/a.jpg`, and `file:///srv/out` allows
 * `file:///srv/out/r/a.json` but not `file:///srv/out-evil/a.json`. A trailing `/` on an entry or on
 * the URL changes nothing. Keys are validated by {@link parseLocation} (no `..`, no empty segments), so
 * the comparison of segments is the comparison of paths. Symlinks are the stores' concern (a
 * `FileStore` rooted at the entry refuses what resolves outside it).
 */
export class LocationAllowList {
  /** The parsed entries, most specific (most segments) first. */
  private readonly entries: ReadonlyArray<{ location: Location; segments: readonly string[] }>;

  /**
   * @param urls - Allowed location URLs.
   * @throws FacefleetError `E_BAD_KEY` for an entry that is not a valid location URL.
   */
  constructor(readonly urls: readonly string[]) {
    this.entries = urls
      .map((url) => {
        const location = parseLocation(url);
        const key = location.key.replace(/\/$/, '');
        return { location: { ...location, key }, segments: segmentsOf(key) };
      })
      .sort((a, b) => b.segments.length - a.segments.length);
  }

  /** True when no entry was given (callers decide what an empty list means). */
  get empty(): boolean {
    return this.entries.length === 0;
  }

  /**
   * The most specific entry that contains `url`, or `undefined` when none does.
   * @throws FacefleetError `E_BAD_KEY` when `url` is not a valid location URL.
   */
  match(url: string): AllowedMatch | undefined {
    const location = parseLocation(url);
    const segments = segmentsOf(location.key.replace(/\/$/, ''));
    for (const { location: entry, segments: allowed } of this.entries) {
      if (entry.scheme !== location.scheme || entry.bucket !== location.bucket) continue;
      if (allowed.length > segments.length || allowed.some((s, i) => segments[i] !== s)) continue;
      return { entry, rest: segments.slice(allowed.length).join('/') };
    }
    return undefined;
  }

  /** True when some entry contains `url` (see {@link LocationAllowList.match}). */
  allows(url: string): boolean {
    return this.match(url) !== undefined;
  }

  /**
   * Throws unless some entry contains `url`.
   * @param what - What the URL is, for the message (e.g. `results location`).
   * @throws FacefleetError `E_BAD_KEY` naming the URL and the allowed locations.
   */
  check(url: string, what: string): AllowedMatch {
    const found = this.match(url);
    if (found) return found;
    const shown = url.length > 200 ? `${url.slice(0, 200)}…` : url;
    throw new FacefleetError('E_BAD_KEY', `${what} ${shown} is outside the allowed locations (${this.urls.join(', ') || 'none'})`);
  }
}

function segmentsOf(key: string): string[] {
  return key === '' ? [] : key.split('/');
}
