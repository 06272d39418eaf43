import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { FacefleetError } from '../errors';

/** Writes a file through a temporary sibling and a rename, so readers never see a partial file. */
export async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new FacefleetError('E_MODEL', `cannot write ${file}`, { cause: err });
  }
}
