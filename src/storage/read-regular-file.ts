import { constants as fsConstants, promises as fsp, Stats } from 'node:fs';
import { FacefleetError } from '../errors';

/**
 * Flags of every open for reading: `O_NONBLOCK` so that opening a FIFO (or a device) that replaced a
 * file cannot hold a libuv thread until a writer appears; on a regular file it changes nothing.
 */
const READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY;

/** Bytes read per `read` call once a file has outgrown the size its fstat gave. */
const READ_CHUNK = 1 << 16;

/** How {@link readRegularFile} names what it reads in its errors. */
export interface ReadRegularOptions {
  /** Largest size accepted, bytes; checked on the fstat and again while reading. */
  maxBytes?: number;
  /** What the file is, in the "not a regular file" message (a path or a store's description). */
  name: string;
  /** What the file is, in the "larger than" message. @defaultValue `name` */
  sizeName?: string;
}

/** What kind of non-regular file `stats` describes, for messages. */
export function fileKind(stats: Stats): string {
  if (stats.isFIFO()) return 'FIFO';
  if (stats.isDirectory()) return 'folder';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'device';
  return 'special file';
}

function checkRegular(stats: Stats, name: string): void {
  if (!stats.isFile()) throw new FacefleetError('E_NOT_FOUND', `not a regular file (${fileKind(stats)}): ${name}`);
}

function checkSize(size: number, options: ReadRegularOptions): void {
  if (options.maxBytes !== undefined && size > options.maxBytes) {
    throw new FacefleetError('E_TOO_LARGE', `object ${options.sizeName ?? options.name} is larger than ${options.maxBytes} bytes`);
  }
}

/**
 * Reads an open file to its end: into one buffer of the size fstat gave (one `read` call for most
 * files, no copy), and on in chunks, still capped, only if the file grew since. The byte past that
 * size is asked for in the same call: a read that stops one byte short of it, at the fstat size, is
 * the end of the file (a regular file returns what it has), so no second call asks for zero bytes; a
 * file that grew fills that byte and is read on.
 */
async function readAll(handle: fsp.FileHandle, size: number, options: ReadRegularOptions): Promise<Buffer> {
  const first = Buffer.allocUnsafe(size + 1);
  let total = 0;
  while (total < first.length) {
    const want = first.length - total;
    const { bytesRead } = await handle.read(first, total, want, null);
    if (bytesRead === 0) return first.subarray(0, total);
    total += bytesRead;
    if (total === size && bytesRead < want) return first.subarray(0, total);
  }
  const chunks: Buffer[] = [first];
  for (;;) {
    checkSize(total, options);
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    const { bytesRead } = await handle.read(chunk, 0, READ_CHUNK, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    chunks.push(chunk.subarray(0, bytesRead));
  }
  checkSize(total, options);
  return Buffer.concat(chunks, total);
}

/**
 * Reads a whole regular file, capped. A FIFO, device, socket or folder is never opened for real: it is
 * refused on its stat (`E_NOT_FOUND`), and the open cannot block (`O_NONBLOCK`) if one replaced the file
 * since; the fstat of what was opened decides. Above `maxBytes` it is `E_TOO_LARGE`. Other file-system
 * errors (ENOENT, EACCES, …) are thrown as they are, for the caller to classify.
 */
export async function readRegularFile(file: string, options: ReadRegularOptions): Promise<{ body: Buffer; stats: Stats }> {
  checkRegular(await fsp.stat(file), options.name);
  const handle = await fsp.open(file, READ_FLAGS);
  try {
    const stats = await handle.stat();
    checkRegular(stats, options.name);
    checkSize(stats.size, options);
    return { body: await readAll(handle, stats.size, options), stats };
  } finally {
    await handle.close();
  }
}

/**
 * A local file a command was given (`facefleet detect`, `facefleet eval`), read as
 * {@link readRegularFile} reads it: `E_NOT_FOUND` when it is missing or not a regular file,
 * `E_TOO_LARGE` above `maxBytes`, `E_STORAGE` for any other read error.
 */
export async function readLocalFile(file: string, maxBytes: number): Promise<Buffer> {
  try {
    return (await readRegularFile(file, { maxBytes, name: file })).body;
  } catch (err) {
    if (err instanceof FacefleetError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new FacefleetError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_STORAGE', `cannot read ${file}: ${code ?? (err as Error).message}`, { cause: err });
  }
}
