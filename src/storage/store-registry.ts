import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { FacefleetError } from '../errors';
import { FileStore } from './file-store';
import { parseLocation } from './location';
import { LocationAllowList } from './location-allow-list';
import type { ObjectStore } from './object-store';
import { S3Store, type S3StoreOptions } from './s3-store';

/** How a {@link StoreRegistry} builds its stores. */
export interface StoreRegistryOptions {
  /**
   * The S3 client shared by every bucket's store, or the configuration of one shared client the
   * registry builds lazily on the first `s3://` URL and destroys in `closeAll`. A client passed in is
   * not destroyed.
   * @defaultValue `{}` (the SDK's defaults and credential chain; pass `s3ClientConfigFromEnv(process.env)`
   * from the entry point for facefleet's settings)
   */
  s3?: S3Client | S3ClientConfig;
  /** Options of every {@link S3Store}. @defaultValue `{}` */
  s3Store?: S3StoreOptions;
  /** Builds the store of a file root. @defaultValue `(root) => new FileStore(root)` */
  fileStore?: (root: string) => ObjectStore;
  /** Builds the store of a bucket from the shared client. @defaultValue `new S3Store(bucket, client, s3Store)` */
  s3StoreFactory?: (bucket: string, client: S3Client) => ObjectStore;
  /**
   * Absolute folders that `file://` URLs may name. When given, a file URL outside every root (whole
   * path segments: root `/srv/out` does not contain `/srv/out-evil`) fails with `E_BAD_KEY`, and each
   * root gets its own store, so symlinks cannot lead out of it either. The URL's store is that of the
   * most specific root containing it.
   * @defaultValue unset: any path (for local use; set it on shared workers)
   */
  fileRoots?: readonly string[];
  /**
   * `s3://bucket` or `s3://bucket/prefix` locations that `s3://` URLs must lie in (exact bucket names,
   * whole key segments). A URL outside all of them fails with `E_BAD_KEY` before any request is made.
   * @defaultValue unset or empty: any bucket the credentials reach
   */
  s3Locations?: readonly string[];
}

/** A store and a key inside it, from {@link StoreRegistry.resolve}. */
export interface ResolvedLocation {
  /** The cached store of the URL's bucket (s3) or of `/` (file). */
  store: ObjectStore;
  /** The key, or key prefix, inside the store (may be `''` or end with `/` for prefixes). */
  key: string;
}

/**
 * Opens and caches one {@link ObjectStore} per (scheme, bucket or root) for location URLs.
 *
 * `s3://bucket/photos/a.jpg` → the store of `bucket`, key `photos/a.jpg`.
 * `file:///data/a.jpg` → the store rooted at `/`, key `data/a.jpg`.
 */
export class StoreRegistry {
  private readonly stores = new Map<string, ObjectStore>();
  private sharedClient: S3Client | undefined;
  private readonly ownsClient: boolean;
  private closing: Promise<void> | undefined;
  private readonly fileRoots: LocationAllowList | undefined;
  private readonly s3Locations: LocationAllowList | undefined;

  /**
   * @param options - See {@link StoreRegistryOptions}.
   * @throws FacefleetError `E_CONFIG` for a file root that is not an absolute path or names `..`, `.` or
   * empty segments, or an S3 location that is not an `s3://bucket[/prefix]` URL.
   */
  constructor(private readonly options: StoreRegistryOptions = {}) {
    this.ownsClient = !(options.s3 instanceof S3Client);
    if (options.s3 instanceof S3Client) this.sharedClient = options.s3;
    if (options.fileRoots) {
      try {
        this.fileRoots = new LocationAllowList(options.fileRoots.map(fileRootUrl));
      } catch (err) {
        throw new FacefleetError('E_CONFIG', `invalid file roots (${options.fileRoots.join(', ')}): ${(err as Error).message}`, { cause: err });
      }
    }
    if (options.s3Locations && options.s3Locations.length > 0) {
      const wrong = options.s3Locations.find((l) => !l.startsWith('s3://'));
      if (wrong !== undefined) throw new FacefleetError('E_CONFIG', `S3 location ${JSON.stringify(wrong)} is not an s3://bucket[/prefix] URL`);
      try {
        this.s3Locations = new LocationAllowList(options.s3Locations);
      } catch (err) {
        throw new FacefleetError('E_CONFIG', `invalid S3 locations (${options.s3Locations.join(', ')}): ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /**
   * The store and key of a location URL, opening the store on first use.
   * @throws FacefleetError `E_BAD_KEY` for a malformed URL; `E_SHUTDOWN` after `closeAll`.
   */
  resolve(url: string): ResolvedLocation {
    if (this.closing) throw new FacefleetError('E_SHUTDOWN', 'store registry is closed');
    const location = parseLocation(url);
    if (location.scheme === 'file' && this.fileRoots) {
      if (this.fileRoots.empty) {
        throw new FacefleetError('E_BAD_KEY', `${url}: file:// locations are off here; name the folders they may use (worker: --file-roots, serve: --allowed-locations file:///DIR)`);
      }
      const found = this.fileRoots.match(url);
      if (!found) throw new FacefleetError('E_BAD_KEY', `${url} is outside the allowed file roots (${this.options.fileRoots!.join(', ')})`);
      location.root = `/${found.entry.key}`;
      // A prefix URL keeps its trailing `/` (it marks a folder to list).
      location.key = found.rest === '' ? '' : location.key.endsWith('/') ? `${found.rest}/` : found.rest;
    }
    if (location.scheme === 's3' && this.s3Locations) this.s3Locations.check(url, 'location');
    const id = location.scheme === 's3' ? `s3://${location.bucket}` : `file://${location.root}`;
    let store = this.stores.get(id);
    if (!store) {
      store = location.scheme === 's3' ? this.openS3(location.bucket) : this.openFile(location.root);
      this.stores.set(id, store);
    }
    return { store, key: location.key };
  }

  /** Open stores, for health reporting and tests. */
  get size(): number {
    return this.stores.size;
  }

  /**
   * Closes every store, then the shared client if the registry built it. Idempotent: later calls return
   * the same promise. Every store is closed even when one fails; failures are thrown at the end (all kept as the cause).
   */
  closeAll(): Promise<void> {
    this.closing ??= this.closeEverything();
    return this.closing;
  }

  private async closeEverything(): Promise<void> {
    const failures: unknown[] = [];
    for (const store of this.stores.values()) {
      try {
        await store.close();
      } catch (err) {
        failures.push(err);
      }
    }
    this.stores.clear();
    if (this.ownsClient && this.sharedClient) {
      try {
        this.sharedClient.destroy();
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length === 1 && failures[0] instanceof FacefleetError) throw failures[0];
    if (failures.length > 0) {
      const cause = failures.length === 1 ? failures[0] : new AggregateError(failures, 'store close failures');
      throw new FacefleetError('E_STORAGE', `failed to close ${failures.length} store(s)`, { cause });
    }
  }

  private openS3(bucket: string): ObjectStore {
    this.sharedClient ??= new S3Client((this.options.s3 as S3ClientConfig | undefined) ?? {});
    const factory = this.options.s3StoreFactory;
    return factory ? factory(bucket, this.sharedClient) : new S3Store(bucket, this.sharedClient, this.options.s3Store);
  }

  private openFile(root: string): ObjectStore {
    return this.options.fileStore ? this.options.fileStore(root) : new FileStore(root);
  }
}

/** `/srv/out/` → `file:///srv/out/`; anything but an absolute path is refused by the allow list. */
function fileRootUrl(root: string): string {
  if (!root.startsWith('/')) throw new FacefleetError('E_CONFIG', `file root ${JSON.stringify(root)} is not an absolute path`);
  return `file://${root.replace(/\/+$/, '/')}`;
}
