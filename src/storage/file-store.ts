import { randomBytes } from 'node:crypto';
import { promises as fsp, Stats } from 'node:fs';
import * as path from 'node:path';
import { FacefleetError } from '../errors';
import { validateKey } from './key';
import type { GetOptions, ObjectEntry, ObjectHead, ObjectStore, PutOptions } from './object-store';
import { readRegularFile } from './read-regular-file';

/** Names of in-flight temporary files written by {@link FileStore.put}; never listed. */
const TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Folders remembered as created and checked to be under the root (oldest forgotten first). */
const KNOWN_DIRS = 4096;

/**
 * An {@link ObjectStore} over a folder: key `a/b.jpg` is the file `<root>/a/b.jpg`.
 *
 * - Keys are validated ({@link validateKey}) and, because symlinks could still lead elsewhere, the real
 *   path of what is read (or of the parent written into) must stay under the real root (`E_BAD_KEY`).
 * - `put` is atomic: a temporary file in the same folder (`.<name>.<random>.tmp`), fsync, rename, then
 *   fsync of the folder. Content type and metadata are not stored (files carry none). Writes into the
 *   same folder at the same time share one folder fsync (group commit), and a folder already created
 *   is only resolved again (one `realpath`) instead of created and checked (two `mkdir`, two `realpath`).
 * - `putIfAbsent` writes the temporary file the same way, then hard-links it to the key, which fails
 *   when the key exists, so of two concurrent writers exactly one wins; where the file system has no
 *   hard links it checks and renames instead.
 * - `head` reports `etag` = `<mtimeMs hex>-<size hex>` and empty metadata.
 * - `list` walks folders lazily, one folder at a time, in UTF-8 byte order of the keys (as S3 lists),
 *   skipping temporary files and symlinked folders.
 *
 * - `get` reads regular files only: a FIFO, device, socket or folder is `E_NOT_FOUND` (as `head` and
 *   `list` treat it as absent), decided on the stat and again on the fstat of a non-blocking open, so
 *   no such file can block a libuv thread.
 *
 * Errors: `E_NOT_FOUND` (ENOENT, not a regular file), `E_STORAGE_DENIED` (EACCES, EPERM), `E_BAD_KEY`,
 * `E_TOO_LARGE`, and `E_STORAGE` for anything else.
 */
export class FileStore implements ObjectStore {
  /** `file://` URL of the root folder. */
  readonly url: string;
  /** Absolute, normalised root folder. */
  readonly root: string;
  private realRoot: Promise<string> | undefined;
  /** Real folders created and checked to be inside the root, by lexical path. */
  private readonly knownDirs = new Set<string>();
  /** The folder fsync of each folder that has not started yet (later renames join it), or is running. */
  private readonly dirSyncs = new Map<string, { started: boolean; done: Promise<void> }>();

  /**
   * @param root - Absolute path of the folder holding the objects; it need not exist until the first put.
   * @throws FacefleetError `E_CONFIG` when `root` is not absolute.
   */
  constructor(root: string) {
    if (!path.isAbsolute(root)) throw new FacefleetError('E_CONFIG', `FileStore root must be an absolute path, got ${JSON.stringify(root)}`);
    this.root = path.resolve(root);
    this.url = `file://${this.root}`;
  }

  /** Reads a whole file; `maxBytes` is checked against its size before reading and while reading. */
  async get(key: string, options: GetOptions = {}): Promise<{ body: Buffer; head: ObjectHead }> {
    const file = await this.existingPath(key);
    try {
      const { body, stats } = await readRegularFile(file, { maxBytes: options.maxBytes, name: this.describe(key), sizeName: key });
      return { body, head: toHead(stats) };
    } catch (err) {
      throw this.convert(err, key, 'read');
    }
  }

  /** Stats a file; `null` when it does not exist or is not a regular file. */
  async head(key: string): Promise<ObjectHead | null> {
    let file: string;
    try {
      file = await this.existingPath(key);
    } catch (err) {
      if (err instanceof FacefleetError && err.code === 'E_NOT_FOUND') return null;
      throw err;
    }
    try {
      const stats = await fsp.stat(file);
      return stats.isFile() ? toHead(stats) : null;
    } catch (err) {
      const converted = this.convert(err, key, 'stat');
      if (converted.code === 'E_NOT_FOUND') return null;
      throw converted;
    }
  }

  /** Lists files whose key starts with `prefix` (a key prefix, not only a folder), lazily. */
  async *list(prefix: string): AsyncGenerator<ObjectEntry> {
    if (prefix !== '') validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut === -1 ? '' : prefix.slice(0, cut + 1);
    yield* this.walk(dirKey, prefix.slice(cut + 1));
  }

  /** Writes atomically via a temporary file, fsync and rename; creates missing parent folders. */
  async put(key: string, body: Buffer | string, _options?: PutOptions): Promise<void> {
    await this.write(key, body, false);
  }

  /** Writes like {@link FileStore.put}, but only when no file exists under the key (hard link, `EEXIST`). */
  async putIfAbsent(key: string, body: Buffer | string, _options?: PutOptions): Promise<boolean> {
    return this.write(key, body, true);
  }

  /** Temporary file, fsync, then rename (or link, when `exclusive`), then fsync of the folder. */
  private async write(key: string, body: Buffer | string, exclusive: boolean): Promise<boolean> {
    const target = this.lexicalPath(key);
    const dir = path.dirname(target);
    const name = path.basename(target);
    const tempName = `.${Buffer.byteLength(name) > 200 ? 'object' : name}.${randomBytes(6).toString('hex')}.tmp`;
    const temp = path.join(dir, tempName);
    let written = false;
    try {
      let handle: fsp.FileHandle;
      try {
        // A remembered folder is only resolved again (symlinks may have changed), not created.
        if (this.knownDirs.has(dir)) await this.checkInside(await fsp.realpath(dir), key);
        else await this.prepareDir(dir, key);
        handle = await fsp.open(temp, 'wx', 0o644);
      } catch (err) {
        // A remembered folder may have been removed since: create and check it again, once.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !this.knownDirs.delete(dir)) throw err;
        await this.prepareDir(dir, key);
        handle = await fsp.open(temp, 'wx', 0o644);
      }
      written = true;
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      let created = true;
      if (exclusive) created = await linkExclusive(temp, target);
      else await fsp.rename(temp, target);
      written = false;
      await this.syncDirShared(dir);
      return created;
    } catch (err) {
      if (written) await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw this.convert(err, key, 'write');
    }
  }

  /** Creates `dir` (and the root) and checks that its real path is under the real root, then remembers it. */
  private async prepareDir(dir: string, key: string): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    await this.checkInside(await nearestExisting(dir), key);
    await fsp.mkdir(dir, { recursive: true });
    await this.checkInside(await fsp.realpath(dir), key);
    if (this.knownDirs.size >= KNOWN_DIRS) this.knownDirs.delete(this.knownDirs.values().next().value!);
    this.knownDirs.add(dir);
  }

  /**
   * Makes renames into `dir` durable. A caller whose rename is done joins a folder fsync that has not
   * started yet, else queues one after the running one (which may have begun before the rename).
   */
  private syncDirShared(dir: string): Promise<void> {
    const current = this.dirSyncs.get(dir);
    if (current && !current.started) return current.done;
    const entry = { started: false, done: Promise.resolve() };
    entry.done = (current?.done ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        entry.started = true;
        try {
          await syncDir(dir);
        } finally {
          if (this.dirSyncs.get(dir) === entry) this.dirSyncs.delete(dir);
        }
      });
    this.dirSyncs.set(dir, entry);
    return entry.done;
  }

  /** Removes a file; no error when it does not exist. */
  async delete(key: string): Promise<void> {
    const target = this.lexicalPath(key);
    try {
      await this.checkInside(await fsp.realpath(path.dirname(target)), key);
      await fsp.unlink(target);
    } catch (err) {
      const converted = this.convert(err, key, 'delete');
      if (converted.code !== 'E_NOT_FOUND') throw converted;
    }
  }

  /** Nothing to release. */
  async close(): Promise<void> {}

  private async *walk(dirKey: string, namePrefix: string): AsyncGenerator<ObjectEntry> {
    const dir = path.join(this.root, ...dirKey.split('/').filter(Boolean));
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const converted = this.convert(err, dirKey || '.', 'list');
      if (converted.code === 'E_NOT_FOUND') return;
      throw converted;
    }
    const candidates = entries
      .filter((e) => e.name.startsWith(namePrefix) && !TEMP_NAME.test(e.name))
      .map((e) => ({ entry: e, sortKey: Buffer.from(e.isDirectory() ? `${e.name}/` : e.name) }))
      .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const { entry } of candidates) {
      const key = dirKey + entry.name;
      if (entry.isDirectory()) {
        yield* this.walk(`${key}/`, '');
        continue;
      }
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      let stats: Stats;
      try {
        stats = await fsp.stat(path.join(dir, entry.name));
      } catch (err) {
        const converted = this.convert(err, key, 'stat');
        if (converted.code === 'E_NOT_FOUND') continue;
        throw converted;
      }
      if (stats.isFile()) yield { key, size: stats.size, etag: etagOf(stats) };
    }
  }

  /** Validated path under the root, without touching the file system. */
  private lexicalPath(key: string): string {
    validateKey(key);
    const full = path.join(this.root, ...key.split('/'));
    if (!isInside(this.root, full)) throw new FacefleetError('E_BAD_KEY', `key escapes the store root: ${this.describe(key)}`);
    return full;
  }

  /** Real path of an existing object, checked to stay under the real root. */
  private async existingPath(key: string): Promise<string> {
    const full = this.lexicalPath(key);
    let real: string;
    try {
      real = await fsp.realpath(full);
    } catch (err) {
      throw this.convert(err, key, 'resolve');
    }
    await this.checkInside(real, key);
    return real;
  }

  private async checkInside(realPath: string, key: string): Promise<void> {
    this.realRoot ??= fsp.realpath(this.root).catch((err: unknown) => {
      this.realRoot = undefined;
      throw err;
    });
    const realRoot = await this.realRoot;
    if (!isInside(realRoot, realPath)) {
      throw new FacefleetError('E_BAD_KEY', `key resolves outside the store root (symlink): ${this.describe(key)}`);
    }
  }

  private describe(key: string): string {
    return `${this.url.endsWith('/') ? this.url : `${this.url}/`}${key}`;
  }

  /** Converts a Node file-system error (by its `code`) into a FacefleetError. */
  private convert(err: unknown, key: string, action: string): FacefleetError {
    if (err instanceof FacefleetError) return err;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const where = this.describe(key);
    if (action === 'write' && (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST')) {
      return new FacefleetError('E_BAD_KEY', `key conflicts with an existing file or folder: ${where}`, { cause: err });
    }
    switch (code) {
      case 'ENOENT':
      case 'ENOTDIR':
      case 'EISDIR':
        return new FacefleetError('E_NOT_FOUND', `no such object: ${where}`, { cause: err });
      case 'ENXIO':
        // open() of a socket, or of a device with nothing behind it.
        return new FacefleetError('E_NOT_FOUND', `not a regular file: ${where}`, { cause: err });
      case 'EACCES':
      case 'EPERM':
        return new FacefleetError('E_STORAGE_DENIED', `permission denied to ${action} ${where}`, { cause: err });
      case 'ENAMETOOLONG':
        return new FacefleetError('E_BAD_KEY', `file name too long: ${where}`, { cause: err });
      default:
        return new FacefleetError('E_STORAGE', `failed to ${action} ${where} (${code ?? 'unknown error'})`, { cause: err });
    }
  }
}

function etagOf(stats: Stats): string {
  return `${Math.floor(stats.mtimeMs).toString(16)}-${stats.size.toString(16)}`;
}

function toHead(stats: Stats): ObjectHead {
  return { etag: etagOf(stats), size: stats.size, lastModified: stats.mtime, metadata: {} };
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** The closest ancestor of `dir` (or `dir` itself) that exists, as a real path. */
async function nearestExisting(dir: string): Promise<string> {
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      return await fsp.realpath(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || path.dirname(current) === current) throw err;
    }
  }
}

/**
 * Moves `temp` to `target` only if `target` does not exist: a hard link (atomic, `EEXIST` when taken),
 * then removal of `temp`. File systems without hard links get a check and a rename. `false` when taken.
 */
async function linkExclusive(temp: string, target: string): Promise<boolean> {
  try {
    await fsp.link(temp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      await fsp.rm(temp, { force: true });
      return false;
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
    const taken = await fsp.lstat(target).then(() => true, () => false);
    if (taken) {
      await fsp.rm(temp, { force: true });
      return false;
    }
    await fsp.rename(temp, target);
    return true;
  }
  await fsp.rm(temp, { force: true });
  return true;
}

/** Makes a rename durable: fsync of the folder entry (Linux and macOS; a no-op where unsupported). */
async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await handle.close();
  }
}
