import { MAX_KEY_BYTES, validateKey } from '../../src/storage/key';
import { codeOf } from '../support/error-code';

describe('validateKey', () => {
  it.each([
    ['a.jpg'],
    ['photos/2024/IMG_0001.JPG'],
    ['a b/c d.png'],
    ['...'],
    ['..a/b..'],
    ['.hidden/file'],
    ['a%2F..%2Fb'],
    ['a?b#c'],
  ])('accepts %j', (key) => {
    expect(codeOf(() => validateKey(key))).toBeUndefined();
  });

  it.each([
    ['Japanese', '写真/東京/顔.jpg'],
    ['Cyrillic', 'фото/лицо.jpg'],
    ['emoji (astral, surrogate pair)', 'faces/😀/🎉.png'],
    ['combining marks', 'cafe\u0301/e\u0301te\u0301.jpg'],
    ['C1 range and NBSP', 'a\u00a0b/\u0085c'],
  ])('accepts unicode: %s', (_label, key) => {
    expect(codeOf(() => validateKey(key))).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['leading slash', '/a.jpg'],
    ['only a slash', '/'],
    ['double slash', 'a//b.jpg'],
    ['trailing slash (empty last segment)', 'a/b/'],
    ['dot segment', 'a/./b.jpg'],
    ['leading dot segment', './a.jpg'],
    ['dot-dot segment', 'a/../b.jpg'],
    ['leading dot-dot', '../etc/passwd'],
    ['trailing dot-dot', 'a/..'],
    ['lone dot-dot', '..'],
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb.jpg'],
    ['tab', 'a\tb.jpg'],
    ['U+001F', 'a\u001fb'],
    ['DEL', 'a\u007fb'],
    ['backslash', 'a\\b.jpg'],
    ['backslash traversal', '..\\..\\etc'],
    ['lone high surrogate', 'a\ud83d.jpg'],
    ['lone low surrogate', 'a\ude00.jpg'],
  ])('rejects %s', (_label, key) => {
    expect(codeOf(() => validateKey(key))).toBe('E_BAD_KEY');
  });

  it('counts the length in UTF-8 bytes, not characters', () => {
    expect(codeOf(() => validateKey('a'.repeat(MAX_KEY_BYTES)))).toBeUndefined();
    expect(codeOf(() => validateKey('a'.repeat(MAX_KEY_BYTES + 1)))).toBe('E_BAD_KEY');
    // 'é' is 2 bytes: 512 of them are exactly 1024 bytes, 513 are over.
    expect(codeOf(() => validateKey('é'.repeat(512)))).toBeUndefined();
    expect(codeOf(() => validateKey('é'.repeat(513)))).toBe('E_BAD_KEY');
    // '😀' is 4 bytes (2 UTF-16 units).
    expect(codeOf(() => validateKey('😀'.repeat(256)))).toBeUndefined();
    expect(codeOf(() => validateKey(`${'😀'.repeat(256)}a`))).toBe('E_BAD_KEY');
  });

  it('names the offending key and the rule in the message', () => {
    expect(() => validateKey('a/../b')).toThrow(/"a\/..\/b".*"\.\." path segment/);
    expect(() => validateKey('a\nb')).toThrow(/control character/);
  });

  it('bounds the message for very long keys', () => {
    try {
      validateKey('x'.repeat(5000));
      throw new Error('expected a throw');
    } catch (err) {
      expect((err as Error).message.length).toBeLessThan(400);
    }
  });
});
