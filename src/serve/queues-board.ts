import fs from 'node:fs';
import path from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { AppControllerRoute, AppViewRoute, BullBoardQueues, ControllerHandlerReturnType, IServerAdapter, UIConfig } from '@bull-board/api/typings/app';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { ApiError } from './api-error';

/** Where the board is mounted. */
export const QUEUES_PATH = '/queues';

/** Settings of {@link queuesBoard}. */
export interface QueuesBoardOptions {
  /** The BullMQ queue of each shard (one for a queue that is not split), each shown on its own. */
  queues: readonly Queue[];
  /** No retries, removals or pauses from the board (the default without authentication). */
  readOnly: boolean;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Google Fonts stylesheet link of bull-board's page: nothing is loaded from a CDN. */
const FONT_LINK = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^"]*"[^>]*>\s*/g;

/** The board's page: its own scripts and styles only (its markup has inline styles). */
const BOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/**
 * bull-board's server side for Fastify, written against `@bull-board/api`'s adapter interface: its
 * API routes, its page (the `index.ejs` template holds only `<%= name %>` and `<%- uiConfig %>`
 * substitutions, filled here without a template engine) and its static files, read from a list made
 * at start so no request path is ever joined to a folder.
 */
class FastifyBoardAdapter implements IServerAdapter {
  private queues: BullBoardQueues = new Map();
  private viewsPath = '';
  private statics = { route: '/static', dir: '' };
  private entry: AppViewRoute | undefined;
  private errorHandler: ((error: Error) => ControllerHandlerReturnType) | undefined;
  private apiRoutes: AppControllerRoute[] = [];
  private uiConfig: UIConfig = {};

  setQueues(queues: BullBoardQueues): this {
    this.queues = queues;
    return this;
  }
  setViewsPath(viewPath: string): this {
    this.viewsPath = viewPath;
    return this;
  }
  setStaticPath(route: string, dir: string): this {
    this.statics = { route, dir };
    return this;
  }
  setEntryRoute(route: AppViewRoute): this {
    this.entry = route;
    return this;
  }
  setErrorHandler(handler: (error: Error) => ControllerHandlerReturnType): this {
    this.errorHandler = handler;
    return this;
  }
  setApiRoutes(routes: AppControllerRoute[]): this {
    this.apiRoutes = routes;
    return this;
  }
  setUIConfig(config: UIConfig): this {
    this.uiConfig = config;
    return this;
  }

  /** Registers everything under `prefix` in `app` (an encapsulated context). */
  register(app: FastifyInstance, prefix: string): void {
    const entry = this.entry;
    if (!entry || !this.errorHandler) throw new Error('bull-board did not configure the adapter (createBullBoard must run first)');
    const onError = this.errorHandler;
    app.setErrorHandler((error, _req, reply) => {
      // The server's own refusals (auth, readiness) keep the server's answer; Fastify hands a thrown
      // error to the parent context's handler.
      if (error instanceof ApiError) throw error;
      const res = onError(error as Error);
      return reply.status(res.status ?? 500).send(res.body);
    });

    const files = listFiles(this.statics.dir);
    app.get(`${prefix}${this.statics.route}/*`, { config: { hidden: true } }, async (req: FastifyRequest<{ Params: { '*': string } }>, reply) => {
      const file = files.get(req.params['*']);
      if (!file) return reply.code(404).send({ error: 'not found' });
      reply.header('content-type', file.type).header('cache-control', 'public, max-age=86400');
      return fs.promises.readFile(file.path);
    });

    const template = fs.readFileSync(path.join(this.viewsPath, 'index.ejs'), 'utf8').replace(FONT_LINK, '');
    const page = (_req: FastifyRequest, reply: FastifyReply) => {
      const view = entry.handler({ basePath: `${prefix}/`, uiConfig: this.uiConfig });
      reply.header('content-type', 'text/html; charset=utf-8').header('content-security-policy', BOARD_CSP).header('cache-control', 'no-store');
      return render(template, view.params as Record<string, unknown>);
    };
    for (const route of [entry.route].flat()) app.route({ method: entry.method.toUpperCase() as HTTPMethods, url: `${prefix}${route}`, config: { hidden: true }, handler: page });

    for (const api of this.apiRoutes) {
      const methods = [api.method].flat().map((m) => m.toUpperCase() as HTTPMethods);
      for (const route of [api.route].flat()) {
        app.route({
          method: methods,
          url: `${prefix}${route}`,
          config: { hidden: true },
          handler: async (req, reply) => {
            const res = await api.handler({
              queues: this.queues,
              uiConfig: this.uiConfig,
              params: req.params as Record<string, string>,
              query: req.query as Record<string, string>,
              body: (req.body ?? {}) as Record<string, unknown>,
              headers: req.headers as Record<string, string>,
            });
            return reply.status(res.status ?? 200).send(res.body);
          },
        });
      }
    }
  }
}

/**
 * Mounts bull-board (the ecosystem's BullMQ dashboard) under `/queues` for the server's queue (each
 * shard's BullMQ queue, when it is split), read-only unless authentication is on.
 */
export async function queuesBoard(app: FastifyInstance, options: QueuesBoardOptions): Promise<void> {
  const adapter = new FastifyBoardAdapter();
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly, allowRetries: !options.readOnly, description: 'facefleet detection jobs' })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'facefleet queues' } },
  });
  await app.register(async (board) => adapter.register(board, QUEUES_PATH));
}

/** Fills `<%= name %>` (HTML-escaped) and `<%- name %>` (as is) from `params`. */
function render(template: string, params: Record<string, unknown>): string {
  return template.replace(/<%([=-])\s*([A-Za-z_]\w*)\s*%>/g, (_m, kind: string, name: string) => {
    const value = params[name] === undefined ? '' : String(params[name]);
    return kind === '-' ? value : value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  });
}

/** Every servable file under `dir`, by its `/`-separated path relative to it. */
function listFiles(dir: string): Map<string, { path: string; type: string }> {
  const out = new Map<string, { path: string; type: string }>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && TYPES[path.extname(e.name)]) out.set(r, { path: path.join(dir, r), type: TYPES[path.extname(e.name)] });
    }
  };
  walk('');
  return out;
}
