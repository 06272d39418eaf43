import type { FastifyInstance, RouteOptions } from 'fastify';

/** OpenAPI details of a route that Fastify's validation schema does not carry. */
export interface RouteDoc {
  /** Answers by status: a JSON Schema (served as application/json) or a full OpenAPI response object. */
  responses?: Record<number, object>;
  /** An OpenAPI request body, when it is not a JSON body described by `schema.body`. */
  requestBody?: object;
}

declare module 'fastify' {
  interface FastifySchema {
    /** One line for `/openapi.json`. */
    summary?: string;
    /** Longer text for `/openapi.json`. */
    description?: string;
    /** Groups in `/openapi.json`. */
    tags?: string[];
  }
  interface FastifyContextConfig {
    /** Documentation of the route for `/openapi.json`. */
    openapi?: RouteDoc;
    /** Reachable without the bearer token (health probes, the console's static files). */
    public?: boolean;
    /** A health probe: answered whatever the `Host` header says. */
    probe?: boolean;
    /** Left out of `/openapi.json` (static files). */
    hidden?: boolean;
  }
}

interface Collected {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  doc: RouteDoc;
  public: boolean;
}

/**
 * Collects every route as it is registered (Fastify's `onRoute` hook) and builds an OpenAPI 3.1 document
 * from the routes' own validation schemas (`querystring`, `params`, `body`) plus their `config.openapi`.
 * Call {@link OpenApiCollector.attach} before registering routes.
 */
export class OpenApiCollector {
  private readonly routes: Collected[] = [];

  constructor(private readonly info: { title: string; version: string; description: string; bearer: boolean }) {}

  /** Starts collecting the routes of `app`. */
  attach(app: FastifyInstance): void {
    app.addHook('onRoute', (route: RouteOptions) => {
      const config = (route.config ?? {}) as { openapi?: RouteDoc; public?: boolean; hidden?: boolean };
      if (config.hidden) return;
      for (const method of [route.method].flat()) {
        if (method === 'HEAD') continue;
        this.routes.push({ method: method.toLowerCase(), url: route.url, schema: (route.schema ?? {}) as Record<string, unknown>, doc: config.openapi ?? {}, public: config.public === true });
      }
    });
  }

  /** The OpenAPI document of every collected route. */
  document(): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const r of this.routes) {
      const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{key}');
      const op: Record<string, unknown> = {
        operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
        ...(r.schema.summary ? { summary: r.schema.summary } : {}),
        ...(r.schema.description ? { description: r.schema.description } : {}),
        ...(r.schema.tags ? { tags: r.schema.tags } : {}),
        parameters: [...parameters(r.schema.params, 'path'), ...parameters(r.schema.querystring, 'query')],
        responses: responses(r.doc.responses),
      };
      if (r.doc.requestBody) op.requestBody = r.doc.requestBody;
      else if (r.schema.body) op.requestBody = { required: true, content: { 'application/json': { schema: r.schema.body } } };
      if (this.info.bearer) op.security = r.public ? [] : [{ bearer: [] }];
      (paths[path] ??= {})[r.method] = op;
    }
    return {
      openapi: '3.1.0',
      info: { title: this.info.title, version: this.info.version, description: this.info.description },
      paths,
      components: this.info.bearer ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {},
      ...(this.info.bearer ? { security: [{ bearer: [] }] } : {}),
    };
  }
}

/** OpenAPI parameters from an object schema (`*` is the wildcard key of result routes). */
function parameters(schema: unknown, where: 'path' | 'query'): object[] {
  const s = schema as { properties?: Record<string, { description?: string }>; required?: string[] } | undefined;
  if (!s?.properties) return [];
  return Object.entries(s.properties).map(([name, prop]) => ({
    name: name === '*' ? 'key' : name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    ...(prop.description ? { description: prop.description } : {}),
    schema: prop,
  }));
}

function responses(declared: Record<number, object> | undefined): Record<string, object> {
  if (!declared) return { 200: { description: 'OK' } };
  const out: Record<string, object> = {};
  for (const [status, body] of Object.entries(declared)) {
    out[status] = 'description' in body && 'content' in body ? body : { description: STATUS_TEXT[Number(status)] ?? 'answer', content: { 'application/json': { schema: body } } };
  }
  return out;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  400: 'Bad request (E_BAD_REQUEST, E_BAD_KEY)',
  401: 'Missing or wrong bearer token (E_UNAUTHORIZED)',
  404: 'Not found (E_NOT_FOUND)',
  413: 'Over the size limit (E_TOO_LARGE)',
  415: 'Unsupported format or content type (E_UNSUPPORTED_FORMAT)',
  422: 'Undecodable image (E_DECODE)',
  429: 'Admission queue full; see Retry-After (E_OVERLOADED)',
  503: 'Not ready, or a transient failure; see Retry-After (E_NOT_READY, E_STORAGE, E_REDIS, E_INFERENCE)',
};
