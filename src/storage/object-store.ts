/** What a HEAD of an object tells: enough to decide incremental skips without downloading. */
export interface ObjectHead {
  /** Entity tag: S3's ETag (quotes stripped) or, for files, a tag derived from mtime and size. */
  etag: string;
  /** Size in bytes. */
  size: number;
  /** Last modification time. */
  lastModified?: Date;
  /** User metadata (S3 `x-amz-meta-*`, lower-case names). Empty for stores without metadata. */
  metadata: Record<string, string>;
}

/** One entry of a prefix listing. */
export interface ObjectEntry {
  /** The full key inside the store (bucket-relative for S3, root-relative for files). */
  key: string;
  size: number;
  etag?: string;
}

/** Options of a put. */
export interface PutOptions {
  contentType?: string;
  /** User metadata stored with the object (names lower-case, ASCII values). */
  metadata?: Record<string, string>;
}

/** Options of a get. */
export interface GetOptions {
  /** Refuse objects larger than this many bytes with `E_TOO_LARGE` (checked before and while reading). */
  maxBytes?: number;
}

/**
 * An object store: one bucket (S3) or one folder (file). Keys are `/`-separated relative paths, validated
 * by `validateKey`. Every method throws a `FacefleetError` (`E_NOT_FOUND`, `E_BAD_KEY`, `E_STORAGE`,
 * `E_STORAGE_DENIED`, `E_TOO_LARGE`); third-party errors are converted here, at the adapter.
 */
export interface ObjectStore {
  /** A URL naming the store's root, e.g. `s3://bucket` or `file:///data/photos`. */
  readonly url: string;
  /** Reads a whole object. */
  get(key: string, options?: GetOptions): Promise<{ body: Buffer; head: ObjectHead }>;
  /** Reads an object's head, or `null` when it does not exist. */
  head(key: string): Promise<ObjectHead | null>;
  /** Lists every object under a prefix, lazily, page by page. */
  list(prefix: string): AsyncIterable<ObjectEntry>;
  /** Writes an object all-or-nothing: readers see the old object, nothing, or the whole new one. */
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<void>;
  /**
   * Writes an object all-or-nothing only if no object exists under the key, atomically where the store
   * allows it (S3 `If-None-Match: *`, a hard link on files): of two concurrent writers exactly one
   * wins. Resolves `true` when this call wrote the object, `false` when one was already there (left
   * untouched).
   */
  putIfAbsent(key: string, body: Buffer | string, options?: PutOptions): Promise<boolean>;
  /** Deletes an object; no error when it does not exist. */
  delete(key: string): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
