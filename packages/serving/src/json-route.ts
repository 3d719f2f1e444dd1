/**
 * JSON routes: the hot inference path of a service without express's per-request machinery.
 * (Raw-body routes, `ctx.rawRoute`, work the same way for bytes such as uploaded images: any
 * content type, the route's own size limit, the handler parses.)
 *
 * A route declared with `ctx.jsonRoute(path, { body: schema }, handler)` is served twice over by
 * the same auth, validation and handler: as an ordinary express route (so `service.app` works
 * everywhere: supertest, `mlsd serve --all` mounting it under a prefix) and by the service's plain
 * node:http listener (`service.handler`, what `listen()` serves), which answers the common case
 * itself and hands everything else to express. The common case: the route's method and exact path,
 * a `Content-Length` within the body limit, no `Content-Encoding`, a JSON (or missing) content type
 * in UTF-8. Compressed, chunked, empty or oversized bodies, other charsets, HEAD and unknown
 * methods take the express path, which is the reference behaviour (413, 415, 405 ...). The answers
 * are the same on both paths (status, body, `x-request-id`, error shape); a suite in
 * service.test.ts runs the routes' tests against both.
 *
 * Measured in bench/serving.bench.ts: on a tiny model the plain listener serves about twice the
 * requests per second of the express route on this machine (see the README).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { errorBody, HttpError, toHttpError } from './errors.js';
import { parseOrThrow } from './validate.js';

/** Who may call a JSON route: anyone, the prediction-route policy of the service, or API-key holders. */
export type JsonRouteAuth = 'open' | 'prediction' | 'apiKey';

/** Options of a JSON route. */
export interface JsonRouteOptions<S extends z.ZodType> {
  /** Schema of the JSON body; its output is what the handler receives. */
  body: S;
  /** HTTP method. Default 'POST'. */
  method?: 'POST' | 'PUT' | 'PATCH';
  /** Default 'prediction' (open unless the service sets `auth.protectPredictions`). */
  auth?: JsonRouteAuth;
  /** Status of a successful answer. Default 200. */
  status?: number;
}

/** What a JSON route's handler gets besides the validated body. */
export interface JsonRouteRequest {
  requestId: string;
  /** Request headers (lower-case names), as node:http gives them. */
  headers: IncomingMessage['headers'];
}

/** A JSON route's handler: returns the response body (serialised with JSON.stringify). */
export type JsonRouteHandler<S extends z.ZodType> = (
  body: z.output<S>,
  request: JsonRouteRequest,
) => unknown | Promise<unknown>;

/** Options of a raw-body route (`ctx.rawRoute`): the body arrives as bytes, e.g. an uploaded image. */
export interface RawRouteOptions {
  /** HTTP method. Default 'POST'. */
  method?: 'POST' | 'PUT' | 'PATCH';
  /** Default 'prediction'. */
  auth?: JsonRouteAuth;
  /** Status of a successful answer. Default 200. */
  status?: number;
  /** Largest body, bytes or a size like '10mb'. Default the service's `limits.bodyBytes`. */
  limit?: number | string;
}

/** What a raw-body route's handler gets besides the bytes. */
export interface RawRouteRequest extends JsonRouteRequest {
  /** The `Content-Type` header, lower-cased ('' when absent). */
  contentType: string;
  /** The query string's parameters. */
  query: URLSearchParams;
  /**
   * The path the service is mounted under ('' at the root; `/<app-id>` under `mlsd serve` or an
   * express mount), for links in the answer.
   */
  baseUrl: string;
}

/** A raw-body route's handler: returns the response body (serialised with JSON.stringify). */
export type RawRouteHandler = (body: Buffer, request: RawRouteRequest) => unknown | Promise<unknown>;

/** One registered JSON or raw-body route, as the plain listener serves it. */
export interface JsonRouteEntry {
  kind: 'json' | 'raw';
  method: string;
  path: string;
  status: number;
  /** Largest body the listener reads itself (larger ones go to express, which answers 413). */
  limit: number;
  /** JSON routes: the body schema. */
  schema?: z.ZodType;
  /** Throws HttpError 401/403 when the request may not call the route. */
  authorize(headers: IncomingMessage['headers']): void;
  handler: JsonRouteHandler<z.ZodType> | RawRouteHandler;
}

/** What the plain listener shares with the express service. */
export interface FastPathContext {
  routes: ReadonlyMap<string, JsonRouteEntry>;
  maxDepth: number;
  logger: Logger;
  requestId(incoming: string | undefined): string;
  accepting(): boolean;
  observe(route: string, method: string, status: number, seconds: number): void;
  jsonDepthExceeds(value: unknown, max: number): boolean;
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Bytes in a limit given as a number or a string like '100kb' (binary units, as body-parser reads them). */
export function parseByteLimit(limit: number | string): number {
  if (typeof limit === 'number' && Number.isFinite(limit) && limit >= 0) return Math.floor(limit);
  const m = typeof limit === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(limit) : null;
  if (!m) {
    throw new RangeError(`limits.bodyBytes: expected bytes or a size like '100kb', got ${String(limit)}`);
  }
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
}

const JSON_TYPE = /json/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/** True when the plain listener may serve this request itself (see the file header). */
function eligible(req: IncomingMessage, route: JsonRouteEntry): boolean {
  const h = req.headers;
  const encoding = h['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  if (h['transfer-encoding'] !== undefined) return false;
  const length = h['content-length'];
  if (length === undefined || !/^\d+$/.test(length)) return false;
  const n = Number(length);
  if (n === 0 || n > route.limit) return false;
  if (route.kind === 'raw') return true;
  const type = h['content-type'];
  if (type !== undefined) {
    if (!JSON_TYPE.test(type)) return false;
    const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return false;
  }
  return true;
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

/** What a raw-body route's handler gets besides the bytes, read off the request (either path). */
export function rawRequest(req: IncomingMessage, requestId: string): RawRouteRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    requestId,
    headers: req.headers,
    contentType: (req.headers['content-type'] ?? '').toLowerCase(),
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    baseUrl: (req as { baseUrl?: string }).baseUrl ?? '',
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const json = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  if (json === undefined) {
    res.setHeader('Content-Length', 0);
    res.end();
    return;
  }
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/**
 * The service's request listener: JSON routes answered directly, everything else by `app`.
 */
export function createFastHandler(
  ctx: FastPathContext,
  app: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { routes, maxDepth, logger } = ctx;

  function serve(route: JsonRouteEntry, req: IncomingMessage, res: ServerResponse): void {
    const start = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = ctx.requestId(typeof incoming === 'string' ? incoming : undefined);
    res.setHeader('x-request-id', requestId);
    if (!ctx.accepting()) res.setHeader('Connection', 'close');

    const done = (status: number) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      ctx.observe(route.path, route.method, status, seconds);
      logger.info(
        { requestId, method: route.method, route: route.path, status, ms: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    };
    const fail = (err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const httpError = toHttpError(err);
      if (httpError.status >= 500) {
        logger.error({ err, requestId, method: route.method, path: route.path }, 'request failed');
      } else {
        logger.debug({ requestId, code: httpError.code, status: httpError.status }, httpError.message);
      }
      for (const [key, value] of Object.entries(httpError.headers)) res.setHeader(key, value);
      sendJson(res, httpError.status, errorBody(httpError, requestId));
      done(httpError.status);
    };

    const answer = (out: unknown) => {
      if (out instanceof Promise) {
        out.then((value) => {
          sendJson(res, route.status, value);
          done(route.status);
        }, fail);
      } else {
        sendJson(res, route.status, out);
        done(route.status);
      }
    };

    const expected = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= expected) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (received !== expected) {
        fail(new HttpError(400, 'bad_request', 'request size did not match content length'));
        return;
      }
      const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (route.kind === 'raw') {
        try {
          route.authorize(req.headers);
          answer((route.handler as RawRouteHandler)(bytes, rawRequest(req, requestId)));
        } catch (err) {
          fail(err);
        }
        return;
      }
      let body: unknown;
      try {
        let text = bytes.toString('utf8');
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        body = JSON.parse(text);
      } catch {
        fail(new HttpError(400, 'malformed_json', 'request body is not valid JSON'));
        return;
      }
      try {
        if (body !== null && typeof body === 'object' && ctx.jsonDepthExceeds(body, maxDepth)) {
          throw new HttpError(400, 'too_deeply_nested', `request body nests deeper than ${maxDepth} levels`);
        }
        route.authorize(req.headers);
        const parsed = parseOrThrow(route.schema as z.ZodType, body, 'body');
        answer((route.handler as JsonRouteHandler<z.ZodType>)(parsed, { requestId, headers: req.headers }));
      } catch (err) {
        fail(err);
      }
    });
  }

  return (req, res) => {
    if (routes.size > 0) {
      const route = routes.get(`${req.method} ${pathOf(req.url)}`);
      if (route && eligible(req, route)) {
        serve(route, req, res);
        return;
      }
    }
    app(req, res);
  };
}
