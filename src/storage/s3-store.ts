import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { FacefleetError } from '../errors';
import { validateKey } from './key';
import type { GetOptions, ObjectEntry, ObjectHead, ObjectStore, PutOptions } from './object-store';

/** Options of an {@link S3Store}. */
export interface S3StoreOptions {
  /**
   * Keys requested per ListObjectsV2 page (S3 returns at most 1000). Smaller pages mean more requests
   * but less memory and a quicker first entry.
   * @defaultValue 1000
   */
  listPageSize?: number;
}

/** SDK error names that mean "retry later", whatever their HTTP status (some are 400 or 403). */
const TRANSIENT_NAMES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestTimeout',
  'RequestTimeTooSkewed', 'ExpiredToken', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'AbortError',
]);
const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound']);
const DENIED_NAMES = new Set([
  'AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled',
  'InvalidToken', 'AccountProblem', 'UnauthorizedAccess', 'XAdminUserNotFound',
]);
const BAD_KEY_NAMES = new Set(['InvalidBucketName', 'KeyTooLongError']);

/** The parts of an SDK (or Node network) error this adapter looks at. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * An {@link ObjectStore} over one S3 bucket (AWS or any S3-compatible server), via
 * `@aws-sdk/client-s3`. Keys are validated with {@link validateKey} before any request.
 *
 * - `get`: one GetObject; `maxBytes` is checked against Content-Length before the body is read (the
 *   stream is destroyed) and again while reading.
 * - `head`: HeadObject; `null` for a missing object. The first miss also checks the bucket once, so a
 *   missing bucket is `E_NOT_FOUND` rather than an endless stream of `null`s.
 * - `list`: ListObjectsV2, one page at a time as the caller iterates.
 * - `put`: one PutObject, which S3 applies all-or-nothing.
 * - `putIfAbsent`: one PutObject with `If-None-Match: *` (412 → `false`); on a server that answers
 *   501 to conditional writes, a HEAD then a plain PutObject (compare-and-skip, not atomic).
 *
 * SDK errors are converted here by their `name` and HTTP status: missing key or bucket → `E_NOT_FOUND`;
 * access denied, bad access key or signature → `E_STORAGE_DENIED`; 5xx, throttling, timeouts and
 * connection errors → `E_STORAGE` (transient).
 */
export class S3Store implements ObjectStore {
  /** `s3://<bucket>`. */
  readonly url: string;
  /** The SDK client; shared when passed in, owned (and destroyed by `close`) when built here. */
  readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly listPageSize: number;
  private bucketSeen = false;
  private conditionalWrites = true;

  /**
   * @param bucket - The bucket name.
   * @param client - An `S3Client` to share (not destroyed by `close`), or the configuration of a client
   * this store builds and owns (see `s3ClientConfigFromEnv`).
   * @param options - See {@link S3StoreOptions}.
   */
  constructor(
    readonly bucket: string,
    client: S3Client | S3ClientConfig = {},
    options: S3StoreOptions = {},
  ) {
    if (!bucket) throw new FacefleetError('E_BAD_KEY', 'S3Store needs a bucket name');
    const pageSize = options.listPageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new FacefleetError('E_CONFIG', `S3Store listPageSize: expected an integer in 1..1000, got ${pageSize}`);
    }
    this.listPageSize = pageSize;
    this.ownsClient = !(client instanceof S3Client);
    this.client = client instanceof S3Client ? client : new S3Client(client);
    this.url = `s3://${bucket}`;
  }

  /** Reads a whole object, refusing objects larger than `maxBytes` with `E_TOO_LARGE`. */
  async get(key: string, options: GetOptions = {}): Promise<{ body: Buffer; head: ObjectHead }> {
    validateKey(key);
    const { maxBytes } = options;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const stream = out.Body as unknown;
      if (!(stream instanceof Readable)) {
        throw new FacefleetError('E_STORAGE', `GetObject ${this.describe(key)} returned no readable body`);
      }
      if (maxBytes !== undefined && out.ContentLength !== undefined && out.ContentLength > maxBytes) {
        stream.destroy();
        throw tooLarge(this.describe(key), maxBytes);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (maxBytes !== undefined && total > maxBytes) {
          stream.destroy();
          throw tooLarge(this.describe(key), maxBytes);
        }
        chunks.push(chunk);
      }
      if (out.ContentLength !== undefined && total !== out.ContentLength) {
        throw new FacefleetError('E_STORAGE', `GetObject ${this.describe(key)}: body ended after ${total} of ${out.ContentLength} bytes`);
      }
      this.bucketSeen = true;
      const head: ObjectHead = {
        etag: stripQuotes(out.ETag),
        size: total,
        lastModified: out.LastModified,
        metadata: { ...(out.Metadata ?? {}) },
      };
      return { body: Buffer.concat(chunks, total), head };
    } catch (err) {
      throw this.convert(err, 'GetObject', key);
    }
  }

  /** HeadObject; `null` when the object does not exist (`E_NOT_FOUND` when the bucket does not). */
  async head(key: string): Promise<ObjectHead | null> {
    validateKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      this.bucketSeen = true;
      return {
        etag: stripQuotes(out.ETag),
        size: out.ContentLength ?? 0,
        lastModified: out.LastModified,
        metadata: { ...(out.Metadata ?? {}) },
      };
    } catch (err) {
      const converted = this.convert(err, 'HeadObject', key);
      if (converted.code !== 'E_NOT_FOUND') throw converted;
      // HEAD responses have no body, so a missing bucket looks like a missing key: tell them apart once.
      if (!this.bucketSeen) await this.checkBucket();
      return null;
    }
  }

  /** Lists every object under `prefix`, fetching the next ListObjectsV2 page only when needed. */
  async *list(prefix: string): AsyncGenerator<ObjectEntry> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix === '' ? undefined : prefix,
            MaxKeys: this.listPageSize,
            ContinuationToken: token,
          }),
        );
      } catch (err) {
        throw this.convert(err, 'ListObjectsV2', prefix);
      }
      this.bucketSeen = true;
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key, size: item.Size ?? 0, etag: item.ETag === undefined ? undefined : stripQuotes(item.ETag) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) {
        throw new FacefleetError('E_STORAGE', `ListObjectsV2 ${this.describe(prefix)}: truncated page without a continuation token`);
      }
    } while (token);
  }

  /** The PutObject of `body` at `key`, with its length, content type and user metadata. */
  private putCommand(key: string, body: Buffer | string, options: PutOptions, ifNoneMatch?: '*'): PutObjectCommand {
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentLength: Buffer.byteLength(body),
      ContentType: options.contentType,
      Metadata: options.metadata,
      ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}),
    });
  }

  /** One PutObject with the content type and user metadata. */
  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(this.putCommand(key, body, options));
      this.bucketSeen = true;
    } catch (err) {
      throw this.convert(err, 'PutObject', key);
    }
  }

  /** PutObject with `If-None-Match: *`: `false` when the key already holds an object. */
  async putIfAbsent(key: string, body: Buffer | string, options: PutOptions = {}): Promise<boolean> {
    validateKey(key);
    if (!this.conditionalWrites) {
      if (await this.head(key)) return false;
      await this.put(key, body, options);
      return true;
    }
    try {
      await this.client.send(this.putCommand(key, body, options, '*'));
      this.bucketSeen = true;
      return true;
    } catch (err) {
      const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
      const status = e.$metadata?.httpStatusCode;
      if (e.name === 'PreconditionFailed' || status === 412) return false;
      if (e.name === 'NotImplemented' || status === 501) {
        // An S3-compatible server without conditional writes: compare-and-skip from now on.
        this.conditionalWrites = false;
        return this.putIfAbsent(key, body, options);
      }
      throw this.convert(err, 'PutObject', key);
    }
  }

  /** DeleteObject; a missing object is not an error. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      const converted = this.convert(err, 'DeleteObject', key);
      if (converted.code === 'E_NOT_FOUND' && (err as SdkErrorShape).name !== 'NoSuchBucket') return;
      throw converted;
    }
  }

  /** Destroys the client's sockets when this store built the client; a shared client is left open. */
  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private async checkBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketSeen = true;
    } catch (err) {
      const converted = this.convert(err, 'HeadBucket', '');
      if (converted.code === 'E_NOT_FOUND') throw this.missingBucket(err);
      throw converted;
    }
  }

  private describe(key: string): string {
    return key === '' ? this.url : `${this.url}/${key}`;
  }

  private missingBucket(cause: unknown): FacefleetError {
    return new FacefleetError('E_NOT_FOUND', `bucket "${this.bucket}" does not exist`, { cause });
  }

  /** Converts an SDK or network error by its `name`, `code` and HTTP status (never by its message). */
  private convert(err: unknown, operation: string, key: string): FacefleetError {
    if (err instanceof FacefleetError) return err;
    const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
    const name = e.name ?? '';
    const status = e.$metadata?.httpStatusCode;
    const what = `${operation} ${this.describe(key)}`;
    const label = name && name !== 'Error' ? name : (e.code ?? (name || 'unknown error'));
    const detail = `${label}${status ? ` (HTTP ${status})` : ''}`;
    // Names first: some servers pair them with surprising statuses (versitygw answers an unknown access
    // key with XAdminUserNotFound and 404; S3 sends RequestTimeout as 400 and RequestTimeTooSkewed as 403).
    if (name === 'NoSuchBucket') return this.missingBucket(err);
    if (TRANSIENT_NAMES.has(name)) return new FacefleetError('E_STORAGE', `${what} failed: ${detail}`, { cause: err });
    if (DENIED_NAMES.has(name)) return new FacefleetError('E_STORAGE_DENIED', `${what} denied: ${detail}`, { cause: err });
    if (NOT_FOUND_NAMES.has(name) || status === 404) {
      return new FacefleetError('E_NOT_FOUND', `no such object: ${this.describe(key)}`, { cause: err });
    }
    if (status === 401 || status === 403) return new FacefleetError('E_STORAGE_DENIED', `${what} denied: ${detail}`, { cause: err });
    if (BAD_KEY_NAMES.has(name)) return new FacefleetError('E_BAD_KEY', `${what} rejected: ${detail}`, { cause: err });
    if (name === 'EntityTooLarge') return new FacefleetError('E_TOO_LARGE', `${what} rejected: ${detail}`, { cause: err });
    // 5xx, 429, connection errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT …) and anything unclassified.
    return new FacefleetError('E_STORAGE', `${what} failed: ${detail}`, { cause: err });
  }
}

function stripQuotes(etag: string | undefined): string {
  if (!etag) return '';
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

function tooLarge(where: string, maxBytes: number): FacefleetError {
  return new FacefleetError('E_TOO_LARGE', `object ${where} is larger than ${maxBytes} bytes`);
}
