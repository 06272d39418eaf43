import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanForSecrets } from '../../tools/chaos/secret-scan';

/** The chaos suite's credential scan finds a credential verbatim or percent-encoded, in nested folders, and names it without printing it. */
describe('credential scan', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-scan-'));
    fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a', 'clean.log'), '{"msg":"worker started","redis":"redis://:***@127.0.0.1:6379"}\n');
    fs.writeFileSync(path.join(dir, 'a', 'b', 'leak.log'), '{"err":{"command":{"args":["3","AUTH","default","p@ss/w0rd+secret"]}}}\n');
    fs.writeFileSync(path.join(dir, 'url.txt'), 'redis://:p%40ss%2Fw0rd%2Bsecret@host:6379\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds each form and reports the secret by name', () => {
    const scan = scanForSecrets([dir, path.join(dir, 'missing')], { 'Redis password': 'p@ss/w0rd+secret', 'S3 secret key': 'never-written-anywhere-123' });
    expect(scan.files).toBe(3);
    expect(scan.findings.map((f) => [path.relative(dir, f.file), f.secret]).sort()).toEqual([
      [path.join('a', 'b', 'leak.log'), 'Redis password'],
      ['url.txt', 'Redis password'],
    ]);
    expect(JSON.stringify(scan)).not.toContain('p@ss/w0rd+secret');
  });
});
