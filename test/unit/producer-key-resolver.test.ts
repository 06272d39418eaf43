import { keyResolver, SourceKey, toSourceKey, withoutDotSlash } from '../../src/producer/key-sources';
import { formatUrl, joinKey, parseLocation } from '../../src/storage/location';

/** What a key resolves to by the rules spelled out step by step: parse the base, join, validate, format. */
function byTheRules(arg: string, base: string): SourceKey {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(arg)) return { source: arg, key: parseLocation(arg).key };
  const loc = parseLocation(base);
  const key = withoutDotSlash(arg);
  return { source: formatUrl({ ...loc, key: joinKey(loc.key, key) }), key: joinKey('', key) };
}

/** What `resolve` returns, or its error's code and message. */
function outcome<T>(resolve: () => T): T | { code: unknown; message: string } {
  try {
    return resolve();
  } catch (err) {
    return { code: (err as { code?: unknown }).code, message: (err as Error).message };
  }
}

const BASES = ['file:///', 'file:///data/', 'file:///data', 's3://bucket', 's3://bucket/pre/', 's3://bucket/pre', 'S3://Bucket_1/a b/'];

const ARGS = [
  'a.jpg',
  'photos/2024/IMG_0001.JPG',
  './a.jpg',
  '././a/b.jpg',
  './/a.jpg',
  '...',
  '.hidden/x.jpg',
  'a b/c d.png',
  'a?b#c',
  '写真/顔.jpg',
  'faces/😀.png',
  '',
  '.',
  './',
  'a/../b.jpg',
  '../etc/passwd',
  'a//b.jpg',
  'a/b/',
  '/abs.jpg',
  'a\\b.jpg',
  'a\u0000b',
  'a\ud83d.jpg',
  'x'.repeat(1010),
  'x'.repeat(1024),
  'x'.repeat(1025),
  'é'.repeat(505),
  's3://other/k.jpg',
  'file:///abs/k.jpg',
  'file://host/k.jpg',
  'http://example.com/k.jpg',
  's3://other/../k.jpg',
  'a://b',
  'key-with://inside.jpg',
];

describe('keyResolver', () => {
  it.each(BASES)('resolves every key against %j as the rules do, and fails where they fail, with the same error', (base) => {
    const resolve = keyResolver(base);
    for (const arg of ARGS) {
      const expected = outcome(() => byTheRules(arg, base));
      expect({ arg, got: outcome(() => resolve(arg)) }).toEqual({ arg, got: expected });
      expect({ arg, got: outcome(() => toSourceKey(arg, base)) }).toEqual({ arg, got: expected });
    }
  });

  it('joins a key whose own length passes but which is over 1,024 bytes once under the base, failing like joinKey', () => {
    const arg = 'x'.repeat(1020);
    expect(outcome(() => keyResolver('file:///data/')(arg))).toEqual(outcome(() => joinKey('data/', arg)));
    expect(outcome(() => keyResolver('file:///data/')(arg))).toMatchObject({ code: 'E_BAD_KEY' });
    expect(keyResolver('file:///')(arg)).toEqual({ source: `file:///${arg}`, key: arg });
  });

  it('parses the base only for a relative key, and refuses it for every relative key', () => {
    const resolve = keyResolver('ftp://nowhere/');
    expect(resolve('s3://bucket/a.jpg')).toEqual({ source: 's3://bucket/a.jpg', key: 'a.jpg' });
    expect(outcome(() => resolve('a.jpg'))).toMatchObject({ code: 'E_BAD_KEY' });
    expect(outcome(() => resolve('b.jpg'))).toMatchObject({ code: 'E_BAD_KEY' });
  });
});
