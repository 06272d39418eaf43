import { decodePythonBytesLiteral } from '../../src/models/python-bytes-literal';
import { codeOf } from '../support/error-code';

const decode = (src: string) => decodePythonBytesLiteral(Buffer.from(src, 'latin1'), 'WEIGHTS');

describe('Python bytes literal', () => {
  it('decodes every standard escape', () => {
    const out = decode(String.raw`WEIGHTS = b'A\x00\xff\n\r\t\\\'\"\a\b\f\v\0\12\101z'` + '\n');
    expect([...out]).toEqual([0x41, 0, 0xff, 10, 13, 9, 0x5c, 0x27, 0x22, 7, 8, 12, 11, 0, 10, 0x41, 0x7a]);
  });

  it('takes double quotes, comments and blank lines around the assignment, and a continuation', () => {
    expect(decode('# generated\n\nWEIGHTS = b"ab\\\ncd"\n# end\n').toString()).toBe('abcd');
  });

  it('matches what Python itself decodes for all 256 byte values written as Python writes them', () => {
    // repr(bytes(range(256))) in CPython: printable ASCII as is, \t \n \r \\ \' as such, others \xhh.
    const repr = [...Array(256).keys()]
      .map((b) => (b === 9 ? '\\t' : b === 10 ? '\\n' : b === 13 ? '\\r' : b === 0x5c ? '\\\\' : b === 0x27 ? "\\'" : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`))
      .join('');
    expect([...decode(`WEIGHTS = b'${repr}'`)]).toEqual([...Array(256).keys()]);
  });

  it('refuses anything else with E_MODEL', () => {
    for (const src of [
      "OTHER = b'x'",
      "WEIGHTS = 'x'",
      "WEIGHTS = b'x'\nimport os",
      "WEIGHTS = b'unterminated",
      "WEIGHTS = b'\\xZZ'",
      "WEIGHTS = b'\\q'",
      "WEIGHTS = b'''x'''",
      "WEIGHTS = b'caf\xe9'",
      "WEIGHTS = b'a\nb'",
    ]) {
      expect({ src, code: codeOf(() => decode(src)) }).toEqual({ src, code: 'E_MODEL' });
    }
  });
});
