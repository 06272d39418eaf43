import { request } from 'node:http';

/** What a server answered. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * A plain request to `url` (`http://host:port/path`; GET unless `method` says otherwise) with its
 * status and body, or `undefined` when nothing answers within `timeoutMs` (connection refused, reset
 * or timed out): for probing a server's endpoints. The path goes out as written, `..` and
 * percent-escapes included, so probes of paths a client would normalise reach the server.
 */
export function httpGet(url: string, options: { method?: string; timeoutMs?: number } = {}): Promise<HttpAnswer | undefined> {
  const parts = /^http:\/\/([^/:]+):(\d+)(\/.*)?$/.exec(url);
  if (!parts) throw new Error(`httpGet: expected http://host:port/path, got ${url}`);
  return new Promise((resolve) => {
    const target = { host: parts[1], port: Number(parts[2]), path: parts[3] ?? '/' };
    const req = request({ ...target, method: options.method ?? 'GET', timeout: options.timeoutMs ?? 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', () => resolve(undefined));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

/** The status code of a plain `GET url`, or `undefined` when nothing answers within `timeoutMs`. */
export async function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return (await httpGet(url, { timeoutMs }))?.status;
}

/** Options of {@link waitForHttp}. */
export interface ReadyOptions {
  /** How long to wait, ms. */
  timeoutMs: number;
  /** Poll interval, ms. @defaultValue 50 */
  intervalMs?: number;
  /** True once waiting is pointless (the server process exited). */
  gone?: () => boolean;
}

/**
 * The readiness probe of a server being started: polls `url` until it answers 2xx. Resolves `false`
 * when `gone()` says the server died or `timeoutMs` passed first.
 */
export async function waitForHttp(url: string, options: ReadyOptions): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  while (!options.gone?.() && Date.now() < deadline) {
    const status = await httpStatus(url);
    if (status !== undefined && status >= 200 && status < 300) return true;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
  return false;
}
