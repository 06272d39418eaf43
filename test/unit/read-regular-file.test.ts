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

  it('reads a file in one read call of its size, with no second call to find its end', async () => {
    const file = write('once', random(300_000));
    const probe = await fs.promises.open(file, 'r');
    const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const read = jest.spyOn(proto, 'read');
    try {
      const { body } = await readRegularFile(file, { name: 'once' });
      expect(body.length).toBe(300_000);
      expect(read).toHaveBeenCalledTimes(1);
      read.mockClear();
      // An empty file: one call, which returns nothing.
      expect((await readRegularFile(write('empty', Buffer.alloc(0)), { name: 'empty' })).body.length).toBe(0);
      expect(read).toHaveBeenCalledTimes(1);
    } finally {
      read.mockRestore();
    }
  });

  it('reads on past the fstat size when the file has grown by the time it is read', async () => {
    const file = write('grows', random(1000));
    const probe = await fs.promises.open(file, 'r');
    const proto = Object.getPrototypeOf(probe) as { stat: (...args: unknown[]) => Promise<fs.Stats> };
    await probe.close();
    const original = proto.stat;
    // The file grows right after its fstat: what was read must be all of it, 1000 + 70,000 bytes.
    const stat = jest.spyOn(proto, 'stat').mockImplementation(async function (this: unknown, ...args: unknown[]) {
      const stats = await original.apply(this, args);
      fs.appendFileSync(file, random(70_000));
      return stats;
    });
    try {
      const { body, stats } = await readRegularFile(file, { name: 'grows' });
      expect(stats.size).toBe(1000);
      expect(body.length).toBe(71_000);
      expect(body.subarray(1000).equals(random(70_000))).toBe(true);
    } finally {
      stat.mockRestore();
    }
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
