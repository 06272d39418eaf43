import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRegularFile } from '../../src/storage/read-regular-file';
import { codeOf } from '../support/error-code';

/** Real files in a temp folder: reads whole, capped, of every size around the read's own boundaries. */
describe('readRegularFile', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-read-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, bytes: Buffer) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };
  const random = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7919 + (i >> 8)) & 0xff));

  it.each([0, 1, 65_535, 65_536, 65_537, 3_000_001])('returns the %d bytes of a file exactly', async (n) => {
    const bytes = random(n);
    const { body, stats } = await readRegularFile(write(`f${n}`, bytes), { name: `f${n}` });
    expect(stats.size).toBe(n);
    expect(body.length).toBe(n);
    expect(body.equals(bytes)).toBe(true);
  });

  it('accepts a file of exactly maxBytes and refuses one byte more with E_TOO_LARGE', async () => {
    const file = write('cap', random(1000));
    expect((await readRegularFile(file, { name: 'cap', maxBytes: 1000 })).body.length).toBe(1000);
    expect(await codeOf(readRegularFile(file, { name: 'cap', maxBytes: 999 }))).toBe('E_TOO_LARGE');
  });

  it('refuses a folder as not a regular file', async () => {
    expect(await codeOf(readRegularFile(dir, { name: 'dir' }))).toBe('E_NOT_FOUND');
  });
});
