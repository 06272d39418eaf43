import { UnrecoverableError } from 'bullmq';
import fs from 'node:fs';
import path from 'node:path';
import { classify, ERROR_CODES, FacefleetError, isErrorCode, parseReason } from '../../src/errors';
import { findRepoRoot } from '../../src/models/registry';
import { HTTP_ONLY_CODES } from '../../src/serve/api-error';
import { jobFailure } from '../../src/worker/fleet-worker';

const root = findRepoRoot();

/** Every file under `dir` (relative to the repository) whose name ends with one of `exts`. */
function filesUnder(dir: string, exts: readonly string[]): string[] {
  return fs
    .readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && exts.some((x) => e.name.endsWith(x)))
    .map((e) => path.join(e.parentPath, e.name));
}

/** `E_…` tokens of each file, with where they are. */
function codeTokens(files: readonly string[]): Array<{ token: string; where: string }> {
  const out: Array<{ token: string; where: string }> = [];
  for (const file of files) {
    fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/\bE_[A-Z][A-Z0-9_]*\b/g)) out.push({ token: m[0], where: `${path.relative(root, file)}:${i + 1}` });
    });
  }
  return out;
}

describe('the code table is closed', () => {
  const known = new Set<string>([...Object.keys(ERROR_CODES), ...Object.keys(HTTP_ONLY_CODES)]);
  const sources = [...filesUnder('src', ['.ts', '.js']), ...filesUnder('workers', ['.ts']), ...filesUnder('producer', ['.ts']), ...filesUnder('tools', ['.ts'])];

  it('names in src/, workers/, producer/ and tools/ (code, comments and the console) only codes of the table or the HTTP-only ones', () => {
    const tokens = codeTokens(sources);
    // The scan must see the codes it checks: a broken pattern would pass vacuously.
    expect(tokens.length).toBeGreaterThan(300);
    expect(tokens.filter((t) => !known.has(t.token))).toEqual([]);
  });

  it("gives every FacefleetError a job failure code (the HTTP-only ones are ApiError's), and uses each code somewhere", () => {
    const created = new Set<string>();
    const wrong: string[] = [];
    for (const file of sources) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/new FacefleetError\(\s*'([A-Z_]+)'/g)) {
        created.add(m[1]);
        if (!isErrorCode(m[1])) wrong.push(`${path.relative(root, file)}: ${m[1]}`);
      }
    }
    expect(created.size).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
    const used = new Set(codeTokens(sources.filter((f) => !f.endsWith(path.join('errors', 'codes.ts')))).map((t) => t.token));
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c))).toEqual([]);
  });

  it('names in README.md and docs/ only codes of the tables', () => {
    const tokens = codeTokens([path.join(root, 'README.md'), ...filesUnder('docs', ['.md'])]);
    expect(tokens.length).toBeGreaterThan(10);
    expect(tokens.filter((t) => !known.has(t.token))).toEqual([]);
  });

  it("lists exactly the table's codes in README's failure-code table, retried exactly when transient", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Failure codes'), readme.indexOf('\n## ', readme.indexOf('## Failure codes') + 1));
    const rows = section.split('\n').filter((l) => /^\| `E_/.test(l));
    const listed = new Map<string, string>();
    for (const row of rows) {
      const [codes, retried] = row.split('|').slice(1, 3).map((c) => c.trim());
      for (const m of codes.matchAll(/`(E_[A-Z_]+)`/g)) listed.set(m[1], retried);
    }
    expect([...listed.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, retried] of listed) {
      const kind = ERROR_CODES[code as keyof typeof ERROR_CODES];
      expect({ code, retried }).toEqual({ code, retried: kind === 'transient' ? 'yes' : kind === 'fatal' ? 'fatal' : 'no' });
    }
  });
});

describe('classify and parseReason', () => {
  it('keeps a FacefleetError and makes anything else E_INTERNAL, permanent, with the original as its cause', () => {
    const decode = new FacefleetError('E_DECODE', 'bad bytes');
    expect(classify(decode)).toBe(decode);
    const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
    const internal = classify(bug);
    expect(internal).toMatchObject({ code: 'E_INTERNAL', kind: 'permanent', message: bug.message });
    expect(internal.cause).toBe(bug);
    expect(classify('a string')).toMatchObject({ code: 'E_INTERNAL', message: 'a string' });
    expect(classify(undefined)).toMatchObject({ code: 'E_INTERNAL' });
  });

  it('splits a coded reason, and reads a reason without a known code as E_INTERNAL', () => {
    expect(parseReason('E_NOT_FOUND: no such object: a.jpg')).toEqual({ code: 'E_NOT_FOUND', message: 'no such object: a.jpg', coded: true });
    expect(parseReason(new FacefleetError('E_REDIS', 'lost').toReason())).toEqual({ code: 'E_REDIS', message: 'lost', coded: true });
    expect(parseReason('job stalled more than allowable limit')).toEqual({ code: 'E_INTERNAL', message: 'job stalled more than allowable limit', coded: false });
    expect(parseReason('E_NOPE: not a code')).toEqual({ code: 'E_INTERNAL', message: 'E_NOPE: not a code', coded: false });
    expect(parseReason(undefined)).toEqual({ code: 'E_INTERNAL', message: '', coded: false });
  });
});

describe('a failed job attempt', () => {
  it('fails an unclassified error at once as E_INTERNAL with UnrecoverableError, attempts left or not', () => {
    const failure = jobFailure(classify(new RangeError('index out of range')), 0, 5);
    expect(failure.final).toBe(true);
    expect(failure.thrown).toBeInstanceOf(UnrecoverableError);
    expect(failure.thrown.message).toBe('E_INTERNAL: index out of range');
  });

  it('retries a transient error (a plain Error, not UnrecoverableError) until its last attempt', () => {
    const storage = new FacefleetError('E_STORAGE', 'S3 503');
    const first = jobFailure(storage, 0, 3);
    expect(first).toMatchObject({ final: false });
    expect(first.thrown).not.toBeInstanceOf(UnrecoverableError);
    expect(first.thrown.message).toBe('E_STORAGE: S3 503');
    expect(jobFailure(storage, 2, 3).final).toBe(true);
    expect(jobFailure(new FacefleetError('E_REDIS', 'connection lost'), 0, 3).thrown).not.toBeInstanceOf(UnrecoverableError);
  });

  it('fails permanent and fatal codes at once', () => {
    for (const code of ['E_DECODE', 'E_POISON', 'E_MODEL'] as const) {
      const failure = jobFailure(new FacefleetError(code, 'x'), 0, 3);
      expect({ code, final: failure.final, unrecoverable: failure.thrown instanceof UnrecoverableError }).toEqual({ code, final: true, unrecoverable: true });
    }
  });
});
