import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { findRepoRoot } from '../models/registry';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The console's folder in a checkout (`src/console`, beside the compiled `dist/`). */
export function defaultConsoleDir(): string {
  return path.join(findRepoRoot(), 'src', 'console');
}

/**
 * Serves the web console: `index.html` at `/` and the other files of `dir` under `/console/`. The file
 * list is read once at start (nothing outside it can be asked for, so no path is ever joined from a
 * request), the bytes on each request (small files; edits show on reload). The files hold no data, so
 * they need no token: the page asks for one when the API answers 401.
 */
export async function consoleAssets(app: FastifyInstance, options: { dir: string }): Promise<void> {
  const files = new Map<string, string>();
  for (const name of fs.readdirSync(options.dir)) {
    const type = TYPES[path.extname(name)];
    if (type && fs.statSync(path.join(options.dir, name)).isFile()) files.set(name, type);
  }
  if (!files.has('index.html')) throw new Error(`console: ${options.dir} has no index.html`);

  const send = (name: string) => async (_req: unknown, reply: { header: (k: string, v: string) => unknown }) => {
    reply.header('content-type', files.get(name)!);
    reply.header('cache-control', 'no-cache');
    reply.header('x-content-type-options', 'nosniff');
    return fs.promises.readFile(path.join(options.dir, name));
  };
  const page = { config: { public: true, hidden: true } };
  app.get('/', page, async (req, reply) => {
    reply.header('content-security-policy', "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
    return send('index.html')(req, reply);
  });
  for (const name of files.keys()) app.get(`/console/${name}`, page, send(name));
}
