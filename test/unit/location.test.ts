import { formatUrl, joinKey, parseLocation } from '../../src/storage/location';
import { codeOf } from '../support/error-code';

describe('parseLocation', () => {
  it.each([
    ['s3://bucket', { scheme: 's3', bucket: 'bucket', root: '', key: '' }],
    ['s3://bucket/', { scheme: 's3', bucket: 'bucket', root: '', key: '' }],
    ['s3://my-bucket.example/photos/', { scheme: 's3', bucket: 'my-bucket.example', root: '', key: 'photos/' }],
    ['s3://bucket/photos/2024/a.jpg', { scheme: 's3', bucket: 'bucket', root: '', key: 'photos/2024/a.jpg' }],
    ['S3://bucket/a.jpg', { scheme: 's3', bucket: 'bucket', root: '', key: 'a.jpg' }],
    ['file:///', { scheme: 'file', bucket: '', root: '/', key: '' }],
    ['file:///data/photos/', { scheme: 'file', bucket: '', root: '/', key: 'data/photos/' }],
    ['file:///data/a.jpg', { scheme: 'file', bucket: '', root: '/', key: 'data/a.jpg' }],
    ['FILE:///data/a.jpg', { scheme: 'file', bucket: '', root: '/', key: 'data/a.jpg' }],
  ])('parses %s', (url, expected) => {
    expect(parseLocation(url)).toEqual(expected);
  });

  it('takes the key verbatim: no percent-decoding, query or fragment handling', () => {
    expect(parseLocation('s3://b-1/a%20b/c%2F..%2Fd.jpg').key).toBe('a%20b/c%2F..%2Fd.jpg');
    expect(parseLocation('s3://b-1/a?x=1#frag').key).toBe('a?x=1#frag');
    expect(parseLocation('file:///tmp/100%25.jpg').key).toBe('tmp/100%25.jpg');
    expect(parseLocation('s3://b-1/写真/顔.jpg').key).toBe('写真/顔.jpg');
  });

  it.each([
    ['dot-dot in s3 key (WHATWG URL would resolve it)', 's3://bucket/a/../b.jpg'],
    ['dot-dot in file path', 'file:///data/../etc/passwd'],
    ['dot segment', 's3://bucket/./a.jpg'],
    ['double slash after bucket', 's3://bucket//a.jpg'],
    ['double slash inside key', 's3://bucket/a//b.jpg'],
    ['double trailing slash', 's3://bucket/a//'],
    ['four slashes in file URL', 'file:////data/a.jpg'],
    ['file URL with a host', 'file://host/data/a.jpg'],
    ['file URL with a relative path', 'file:data/a.jpg'],
    ['file URL with one slash', 'file:/data/a.jpg'],
    ['empty bucket', 's3:///a.jpg'],
    ['no slashes after s3:', 's3:bucket/a.jpg'],
    ['bucket with a port', 's3://bucket:9000/a.jpg'],
    ['bucket with credentials', 's3://user@bucket/a.jpg'],
    ['too short bucket', 's3://ab/a.jpg'],
    ['bucket ending in a dash', 's3://bucket-/a.jpg'],
    ['unknown scheme', 'gs://bucket/a.jpg'],
    ['http scheme', 'http://example.com/a.jpg'],
    ['no scheme', '/data/a.jpg'],
    ['empty string', ''],
    ['control character in key', 's3://bucket/a\nb.jpg'],
    ['backslash in key', 'file:///data\\a.jpg'],
    ['leading whitespace', ' s3://bucket/a.jpg'],
  ])('rejects %s with E_BAD_KEY', (_label, url) => {
    expect(codeOf(() => parseLocation(url))).toBe('E_BAD_KEY');
  });
});

describe('joinKey', () => {
  it('joins with exactly one slash', () => {
    expect(joinKey('a/b/', 'c.jpg')).toBe('a/b/c.jpg');
    expect(joinKey('a/b', 'c.jpg')).toBe('a/b/c.jpg');
    expect(joinKey('', 'c.jpg')).toBe('c.jpg');
    expect(joinKey('results/', 'x/y.jpg.json')).toBe('results/x/y.jpg.json');
  });

  it('rejects joins that would be unsafe keys', () => {
    expect(codeOf(() => joinKey('a/', '../b'))).toBe('E_BAD_KEY');
    expect(codeOf(() => joinKey('a/', '/b'))).toBe('E_BAD_KEY');
    expect(codeOf(() => joinKey('a/', ''))).toBe('E_BAD_KEY');
    expect(codeOf(() => joinKey('', ''))).toBe('E_BAD_KEY');
  });
});

describe('formatUrl', () => {
  it.each(['s3://bucket', 's3://bucket/photos/', 's3://bucket/a%20b.jpg', 'file:///', 'file:///data/a.jpg', 'file:///data/'])(
    'round-trips %s',
    (url) => {
      expect(formatUrl(parseLocation(url))).toBe(url);
    },
  );

  it('formats from parts', () => {
    expect(formatUrl({ scheme: 's3', bucket: 'b-1', key: 'k/x.json' })).toBe('s3://b-1/k/x.json');
    expect(formatUrl({ scheme: 'file', key: 'data/x.json' })).toBe('file:///data/x.json');
  });

  it('needs a bucket for s3', () => {
    expect(codeOf(() => formatUrl({ scheme: 's3', bucket: '', key: 'a' }))).toBe('E_BAD_KEY');
  });
});
