import { FacefleetError } from '../errors';

const BACKSLASH = 0x5c;
const SIMPLE_ESCAPES: Record<number, number> = {
  0x5c: 0x5c, // \\
  0x27: 0x27, // \'
  0x22: 0x22, // \"
  0x61: 0x07, // \a
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x76: 0x0b, // \v
};

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Decodes the one Python bytes literal assigned to `name` in a module's source, e.g.
 * `WEIGHTS = b'\x08\x06…'`: single- or double-quoted, non-raw, with Python's standard escapes (`\\`,
 * quotes, `\a \b \f \n \r \t \v`, `\ooo`, `\xhh`, and a backslash-newline continuation). Nothing else
 * in the module is evaluated: only blank lines and `#` comments may surround the assignment.
 *
 * Throws `FacefleetError('E_MODEL')` naming the byte offset when the source holds anything else.
 */
export function decodePythonBytesLiteral(source: Uint8Array, name: string): Buffer {
  const text = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  const fail = (at: number, what: string): never => {
    throw new FacefleetError('E_MODEL', `python bytes literal ${name}: ${what} at byte ${at}`);
  };
  let i = skipBlankAndComments(text, 0);
  const head = Buffer.from(`${name}`);
  if (!text.subarray(i, i + head.length).equals(head)) fail(i, `expected the assignment '${name} = b'...''`);
  i += head.length;
  while (text[i] === 0x20) i++;
  if (text[i] !== 0x3d) fail(i, "expected '='");
  i++;
  while (text[i] === 0x20) i++;
  if (text[i] !== 0x62 && text[i] !== 0x42) fail(i, "expected a b'' literal");
  i++;
  const quote = text[i];
  if (quote !== 0x27 && quote !== 0x22) fail(i, 'expected a quote');
  if (text[i + 1] === quote && text[i + 2] === quote) fail(i, 'triple-quoted literals are not supported');
  i++;
  // The decoded literal is never longer than its source.
  const out = Buffer.allocUnsafe(text.length - i);
  let n = 0;
  for (;;) {
    if (i >= text.length) fail(i, 'unterminated literal');
    const c = text[i];
    if (c === quote) break;
    if (c === 0x0a || c === 0x0d) fail(i, 'line break inside the literal');
    if (c >= 0x80) fail(i, 'non-ASCII byte inside a bytes literal');
    if (c !== BACKSLASH) {
      out[n++] = c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) fail(i, 'unterminated escape');
    if (SIMPLE_ESCAPES[e] !== undefined) {
      out[n++] = SIMPLE_ESCAPES[e];
      i += 2;
    } else if (e === 0x78) {
      const hi = hexValue(text[i + 2]);
      const lo = hexValue(text[i + 3]);
      if (hi < 0 || lo < 0) fail(i, 'bad \\x escape');
      out[n++] = (hi << 4) | lo;
      i += 4;
    } else if (e >= 0x30 && e <= 0x37) {
      let v = 0;
      let j = i + 1;
      while (j < i + 4 && text[j] >= 0x30 && text[j] <= 0x37) v = v * 8 + (text[j++] - 0x30);
      out[n++] = v & 0xff;
      i = j;
    } else if (e === 0x0a) {
      i += 2;
    } else {
      fail(i, `unsupported escape \\${String.fromCharCode(e)}`);
    }
  }
  const end = skipBlankAndComments(text, i + 1);
  if (end !== text.length) fail(end, 'unexpected content after the literal');
  return Buffer.from(out.subarray(0, n));
}

/** Index of the first byte at or after `i` that is not whitespace or inside a `#` comment. */
function skipBlankAndComments(text: Buffer, i: number): number {
  for (;;) {
    const c = text[i];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      i++;
    } else if (c === 0x23) {
      while (i < text.length && text[i] !== 0x0a) i++;
    } else {
      return i;
    }
  }
}
