import { LineBlock, ManifestLines, ManifestParser, MAX_MANIFEST_LINE_BYTES } from '../../src/producer/manifest';
import type { SourceKey } from '../../src/producer/key-sources';

/** Every line `ManifestLines` splits from `reads`, with its number, and the error that stopped it. */
function split(reads: ReadonlyArray<Buffer | string>, file = 'm.txt'): { lines: Array<[number, string]>; error?: string } {
  const splitter = new ManifestLines(file);
  const lines: Array<[number, string]> = [];
  const take = (b: LineBlock) => {
    b.lines.forEach((l, i) => lines.push([b.firstLineNo + i, l]));
    return b.error?.message;
  };
  for (const r of reads) {
    const error = take(splitter.push(r));
    if (error) return { lines, error };
  }
  const error = take(splitter.end());
  return error ? { lines, error } : { lines };
}

/** `bytes` cut into reads at the given offsets. */
function cut(bytes: Buffer, at: readonly number[]): Buffer[] {
  const edges = [0, ...at, bytes.length];
  return edges.slice(1).map((end, i) => bytes.subarray(edges[i], end));
}

/** The keys and error of parsing `reads` of a manifest named `file` against `base`. */
function parse(reads: ReadonlyArray<Buffer | string>, file = 'm.txt', base = 'file:///data/'): { keys: SourceKey[]; error?: unknown } {
  const splitter = new ManifestLines(file);
  const parser = new ManifestParser(file, base);
  const keys: SourceKey[] = [];
  for (const block of [...reads.map((r) => splitter.push(r)), splitter.end()]) {
    const out = parser.parse(block);
    keys.push(...out.keys);
    if (out.error !== undefined) return { keys, error: out.error };
  }
  return { keys };
}

describe('ManifestLines', () => {
  const text = 'a/1.jpg\r\n# comment\n\né/ü.jpg\n{"key":"😀/x.png"}\r\nlast 顔.jpg';
  const bytes = Buffer.from(text);
  const expected = text.split('\n').map((l, i): [number, string] => [i + 1, l]);

  it('splits the same lines wherever one read ends and the next begins, inside CRLF and multi-byte characters included', () => {
    for (let at = 0; at <= bytes.length; at++) expect({ at, ...split(cut(bytes, [at])) }).toEqual({ at, lines: expected });
  });

  it('splits the same lines from reads of one byte each, and from strings', () => {
    expect(split(cut(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)))).toEqual({ lines: expected });
    expect(split([text.slice(0, 9), text.slice(9)])).toEqual({ lines: expected });
  });

  it('takes a line of exactly the cap and refuses one byte more, after the lines before it', () => {
    const atCap = 'x'.repeat(MAX_MANIFEST_LINE_BYTES);
    expect(split([`a\n${atCap}\nb\n`]).lines.map(([n, l]) => [n, l.length])).toEqual([
      [1, 1],
      [2, MAX_MANIFEST_LINE_BYTES],
      [3, 1],
    ]);
    expect(split([`a\nb\n${atCap}y\nc\n`])).toEqual({ lines: [[1, 'a'], [2, 'b']], error: `m.txt:3: line longer than ${MAX_MANIFEST_LINE_BYTES} bytes` });
  });

  it('refuses a line over the cap as soon as its bytes exceed it, without waiting for its end', () => {
    const half = Buffer.alloc(MAX_MANIFEST_LINE_BYTES / 2 + 1, 0x61);
    // Line 2 has no end yet: the second read takes it over the cap and nothing more is read.
    const splitter = new ManifestLines('blob.bin');
    expect(splitter.push(Buffer.concat([Buffer.from('k.jpg\n'), half]))).toEqual({ lines: ['k.jpg'], firstLineNo: 1 });
    expect(splitter.push(half).error?.message).toBe(`blob.bin:2: line longer than ${MAX_MANIFEST_LINE_BYTES} bytes`);
    expect(splitter.push('more\n').error?.message).toBe(`blob.bin:2: line longer than ${MAX_MANIFEST_LINE_BYTES} bytes`);
  });

  it('measures the cap in bytes of the manifest, not in decoded characters', () => {
    // 40,000 "é" (80,000 bytes, 40,000 characters) are over; 30,000 bytes of 0xff (decoded to
    // 30,000 three-byte replacement characters) are under.
    expect(split([`${'é'.repeat(40_000)}\n`]).error).toBe(`m.txt:1: line longer than ${MAX_MANIFEST_LINE_BYTES} bytes`);
    const raw = Buffer.concat([Buffer.alloc(30_000, 0xff), Buffer.from('\n'), Buffer.alloc(30_000, 0xff), Buffer.from('\n')]);
    expect(split([raw]).lines.map(([n, l]) => [n, l.length])).toEqual([
      [1, 30_000],
      [2, 30_000],
    ]);
  });
});

describe('ManifestParser', () => {
  it('reads plain lines, JSONL and comments into keys against the base', () => {
    expect(parse(['# c\n./a/1.jpg\n\n  b.jpg  \n{"key":"c.jpg"}\n{"source":"s3://bkt/d.jpg"}\n{"source":"s3://bkt/p/e.jpg","key":"./q/e.jpg"}\n'])).toEqual({
      keys: [
        { source: 'file:///data/a/1.jpg', key: 'a/1.jpg' },
        { source: 'file:///data/b.jpg', key: 'b.jpg' },
        { source: 'file:///data/c.jpg', key: 'c.jpg' },
        { source: 's3://bkt/d.jpg', key: 'd.jpg' },
        { source: 's3://bkt/p/e.jpg', key: 'q/e.jpg' },
      ],
    });
  });

  it('takes the CSV header from line 1 only, across reads', () => {
    expect(parse(['size,ke', 'y\n1,a.jpg\n2,"b.jpg"\n'], 'm.csv').keys.map((k) => k.key)).toEqual(['a.jpg', 'b.jpg']);
    expect(parse(['size,name\n1,a.jpg\n'], 'm.csv').error).toMatchObject({ code: 'E_BAD_JOB', message: 'm.csv: the CSV header has no "key" column' });
    // Line 1 a comment: there is no header, and the lines are keys.
    expect(parse(['# c\nsize,key\n'], 'm.csv').keys.map((k) => k.key)).toEqual(['size,key']);
  });

  it('stops at a bad line with its number, after the keys before it, and stays stopped', () => {
    const splitter = new ManifestLines('m.jsonl');
    const parser = new ManifestParser('m.jsonl', 'file:///data/');
    expect(parser.parse(splitter.push('a.jpg\nb.jpg\n'))).toEqual({ keys: [{ source: 'file:///data/a.jpg', key: 'a.jpg' }, { source: 'file:///data/b.jpg', key: 'b.jpg' }] });
    const bad = parser.parse(splitter.push('c.jpg\n{"key":\nd.jpg\n'));
    expect(bad.keys.map((k) => k.key)).toEqual(['c.jpg']);
    expect(bad.error).toMatchObject({ code: 'E_BAD_JOB', message: 'm.jsonl:4: not valid JSON' });
    expect(parser.parse(splitter.push('e.jpg\n'))).toEqual({ keys: [], error: bad.error });
    expect(parse(['{"size":1}\n']).error).toMatchObject({ code: 'E_BAD_JOB', message: 'm.txt:1: no key' });
    // A JSON string may decode to a line break: refused as a key like any control character.
    expect(parse(['{"key":"a\\nb.jpg"}\n']).error).toMatchObject({ code: 'E_BAD_KEY' });
  });
});
