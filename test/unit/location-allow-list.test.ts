import { FacefleetError } from '../../src/errors';
import { LocationAllowList } from '../../src/storage/location-allow-list';

/** The one matcher behind `--allowed-locations` (serve) and `--file-roots` (worker): whole segments, exact buckets. */
describe('LocationAllowList', () => {
  const list = new LocationAllowList(['s3://photos', 's3://shared/team-a/', 'file:///srv/out', 'file:///data/in/']);

  it.each([
    's3://photos',
    's3://photos/',
    's3://photos/a.jpg',
    's3://photos/2024/a.jpg',
    'S3://photos/a.jpg',
    's3://shared/team-a',
    's3://shared/team-a/',
    's3://shared/team-a/x/y.jpg',
    'file:///srv/out',
    'file:///srv/out/',
    'file:///srv/out/run/a.jpg.json',
    'file:///data/in/a.jpg',
  ])('allows %s', (url) => {
    expect(list.allows(url)).toBe(true);
  });

  it.each([
    ['a bucket whose name starts with an allowed one', 's3://photos-private/a.jpg'],
    ['a bucket whose name starts with an allowed one (bare)', 's3://photosx'],
    ['a folder whose name starts with an allowed one', 'file:///srv/out-evil/a.json'],
    ['a sibling of an allowed folder', 'file:///srv/outer'],
    ['the parent of an allowed folder', 'file:///srv/'],
    ['a key prefix whose segment starts with an allowed one', 's3://shared/team-ab/x.jpg'],
    ['the bucket of an allowed key prefix', 's3://shared/'],
    ['another scheme with the same path', 's3://srv/out/a.json'],
    ['a file URL naming an allowed bucket', 'file:///photos/a.jpg'],
  ])('refuses %s', (_why, url) => {
    expect(list.allows(url)).toBe(false);
  });

  it('refuses traversal instead of resolving it', () => {
    expect(() => list.allows('file:///srv/out/../etc/passwd')).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
    expect(() => list.allows('s3://photos/../photos-private/a.jpg')).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
  });

  it('gives the most specific entry and the key relative to it', () => {
    const nested = new LocationAllowList(['file:///srv', 'file:///srv/out/']);
    expect(nested.match('file:///srv/out/r/a.json')).toMatchObject({ entry: { scheme: 'file', key: 'srv/out' }, rest: 'r/a.json' });
    expect(nested.match('file:///srv/other.json')).toMatchObject({ entry: { key: 'srv' }, rest: 'other.json' });
    expect(nested.match('file:///srv/out')).toMatchObject({ entry: { key: 'srv/out' }, rest: '' });
    expect(nested.match('file:///etc/passwd')).toBeUndefined();
  });

  it('check() throws E_BAD_KEY naming the URL and the allowed locations', () => {
    let caught: unknown;
    try {
      list.check('s3://photos-private/a.jpg', 'source');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FacefleetError);
    expect(caught).toMatchObject({ code: 'E_BAD_KEY', message: expect.stringContaining('source s3://photos-private/a.jpg is outside the allowed locations (s3://photos,') });
    expect(list.check('s3://photos/a.jpg', 'source')).toMatchObject({ rest: 'a.jpg' });
  });

  it('refuses an entry that is not a location URL', () => {
    expect(() => new LocationAllowList(['file:///srv/../etc'])).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
    expect(() => new LocationAllowList(['http://example.com/'])).toThrow(expect.objectContaining({ code: 'E_BAD_KEY' }));
    expect(new LocationAllowList([]).empty).toBe(true);
  });
});
