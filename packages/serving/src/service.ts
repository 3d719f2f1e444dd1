/**
 * The service factory every case study uses: one express app with the same health, readiness,
 * metrics, monitoring and model routes, the same request ids, logs, limits and errors.
 * It never listens; `listen()` in listen.ts does, and `close()` releases what the service owns.
 *
 * Sections: 1. options and context, 2. request plumbing, 3. built-in routes, 4. 404/405 and errors.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createOpsMetrics, type OpsMetrics } from '@mlsd/monitoring';
import express, { type Express, type Request, type RequestHandler, type Router } from 'express';
import { type Logger, pino } from 'pino';
import type { z } from 'zod';
import { type AuthOptions, apiKeyCheck, requireApiKey } from './auth.js';
import { errorHandler, HttpError } from './errors.js';
import {
  createFastHandler,
  type JsonRouteEntry,
  type JsonRouteHandler,
  type JsonRouteOptions,
  parseByteLimit,
  pathOf,
  type RawRouteHandler,
  type RawRouteOptions,
  rawRequest,
} from './json-route.js';
import { type InferenceModel, type ServedModel, toServedModel } from './model.js';
import { validate } from './validate.js';

// 1. Options and context -------------------------------------------------------------------------

/** A readiness check: resolve (or return true) when ready; throw, return false or a reason string when not. */
export type ReadinessCheck = () => unknown;

/** Something the service closes on shutdown (queues, stores, job runners, models). */
export interface Closeable {
  close(): unknown;
}

/** Request limits. */
export interface ServiceLimits {
  /** Largest accepted JSON body, in bytes or a size string like '100kb'. Default '100kb'. */
  bodyBytes?: number | string;
  /**
   * Deepest nesting of arrays/objects accepted in a JSON body. Default 64. Deeper bodies are 400:
   * recursive code downstream (JSON.stringify, loggers, validators) would overflow the stack.
   */
  maxJsonDepth?: number;
  /** Timeout of one readiness check, ms. Default 2000. */
  readinessTimeoutMs?: number;
}

/** What route definitions receive besides the router. */
export interface ServiceContext {
  name: string;
  version: string;
  logger: Logger;
  metrics: OpsMetrics;
  models: ReadonlyMap<string, ServedModel>;
  /** Middleware for state-changing routes: requires a valid API key. */
  requireApiKey: RequestHandler;
  /** Middleware for prediction routes: open unless `auth.protectPredictions`. */
  predictionAuth: RequestHandler;
  /** Zod validation middleware (see validate.ts). */
  validate: typeof validate;
  /** Returns the model registered under `key`, or throws 404. */
  model(key: string): InferenceModel;
  /** Registers something to close when the service closes (after in-flight requests have drained). */
  onClose(closeable: Closeable | (() => unknown)): void;
  /**
   * Declares a JSON route (the hot inference path): auth, body validation with `options.body` and
   * the handler's return value as the JSON answer. Served by express and, for ordinary requests,
   * by the service's plain listener without express (see json-route.ts). Same answers either way.
   */
  jsonRoute<S extends z.ZodType>(
    path: string,
    options: JsonRouteOptions<S>,
    handler: JsonRouteHandler<S>,
  ): void;
  /**
   * Declares a raw-body route (e.g. an image upload): the handler gets the body's bytes, its
   * content type and the query string; served like a JSON route (express, and the plain listener for
   * ordinary requests). The app-wide JSON parser leaves these paths alone.
   */
  rawRoute(path: string, options: RawRouteOptions, handler: RawRouteHandler): void;
}

/** Options of {@link createService}. */
export interface ServiceOptions {
  /** Service name, shown on `/healthz` and in logs. */
  name: string;
  /** Service version. Default '0.0.0'. */
  version?: string;
  /** Loaded models by key: an `InferenceModel` or `{ model, stage, specHash }`. */
  models?: Record<string, InferenceModel | ServedModel>;
  /** Defines the app's own routes on a router mounted at `/`. */
  routes?: (router: Router, context: ServiceContext) => void;
  auth?: AuthOptions;
  limits?: ServiceLimits;
  /** Logger; default a pino logger named after the service at level 'info'. */
  logger?: Logger;
  /** Operations metrics; default `createOpsMetrics()` in a fresh registry. */
  metrics?: OpsMetrics;
  /** Produces the drift/decay report served on `/monitoring`. Without it `/monitoring` answers 404. */
  monitoringReport?: () => Promise<object>;
  /** Named readiness checks besides "models loaded" (e.g. `{ redis: () => redis.ping() }`). */
  readiness?: Record<string, ReadinessCheck>;
  /** Closed after in-flight requests drain (queues, stores, runners). */
  closeables?: Closeable[];
  /** Close the models on shutdown too. Default true. */
  closeModels?: boolean;
}

/** A service: the express app (never listening) and its shutdown. */
export interface Service {
  app: Express;
  /**
   * The request listener `listen()` serves: JSON routes answered without express, everything else
   * by `app`. Mount `app` when composing services under prefixes; the answers are the same.
   */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  context: ServiceContext;
  /** Marks the service not ready (readiness answers 503) while it keeps serving in-flight work. */
  stopAccepting(): void;
  /** Marks the service not ready, then closes closeables (and models). Idempotent. */
  close(): Promise<void>;
  /** False once closing has begun. */
  readonly accepting: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const result = await Promise.race([Promise.resolve().then(check), timeout]);
    if (result === false) return 'check returned false';
    if (typeof result === 'string' && result !== 'PONG' && result !== 'ok') return result;
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

interface LayerLike {
  match(path: string): false | boolean | { path: string };
  path?: string;
  route?: { methods: Record<string, boolean> };
  handle?: { stack?: LayerLike[] };
}

/** Methods of the routes matching `path` in a router stack (recursing into mounted routers). */
function allowedMethods(stack: LayerLike[] | undefined, path: string, out = new Set<string>()): Set<string> {
  for (const layer of stack ?? []) {
    let m: ReturnType<LayerLike['match']>;
    try {
      m = layer.match(path);
    } catch {
      continue;
    }
    if (!m) continue;
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') out.add(method.toUpperCase());
      }
      if (out.has('GET')) out.add('HEAD');
    } else if (layer.handle?.stack) {
      const matched = typeof m === 'object' ? m.path : (layer.path ?? '');
      allowedMethods(layer.handle.stack, path.slice(matched.length) || '/', out);
    }
  }
  return out;
}

/** True when `value` nests arrays/objects deeper than `max` (iterative: deep input cannot overflow it). */
function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[object, number]> = [];
  if (value !== null && typeof value === 'object') stack.push([value, 1]);
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    // Arrays by index (no copy of a long array of numbers); objects by their values.
    const children: ArrayLike<unknown> = Array.isArray(v) ? v : Object.values(v);
    for (let i = 0; i < children.length; i++) {
      const child = children[i];
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Route label for metrics: the matched pattern, never the raw URL (bounded cardinality). */
function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}

/**
 * Create a service. Returns the express app (it never listens) and `close()`.
 *
 * ```ts
 * const service = createService({
 *   name: 'ads', models: { ctr: model },
 *   routes: (r, ctx) => r.post('/predict', ctx.predictionAuth, ctx.validate(Body), async (req, res) => { ... }),
 * });
 * const { close } = await listen(service, 8080);
 * ```
 */
export function createService(options: ServiceOptions): Service {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options: expected an object, got ${String(options)}`);
  }
  if (typeof options.name !== 'string' || options.name.length === 0) {
    throw new TypeError(`options.name: expected a non-empty string, got ${String(options.name)}`);
  }
  const name = options.name;
  const version = options.version ?? '0.0.0';
  const logger = options.logger ?? pino({ name, level: 'info' });
  const metrics = options.metrics ?? createOpsMetrics();
  const models = new Map<string, ServedModel>();
  for (const [key, entry] of Object.entries(options.models ?? {})) {
    const served = toServedModel(key, entry);
    models.set(key, served);
    metrics.modelInfo.set(
      {
        name: served.model.name ?? key,
        version: String(served.model.version ?? ''),
        spec_hash: served.specHash ?? '',
        stage: served.stage ?? 'production',
      },
      1,
    );
  }
  const readiness = { ...(options.readiness ?? {}) };
  const readinessTimeoutMs = options.limits?.readinessTimeoutMs ?? 2000;
  const closeables: Array<Closeable | (() => unknown)> = [...(options.closeables ?? [])];
  let accepting = true;
  let closing: Promise<void> | undefined;
  const router = express.Router();
  const fastRoutes = new Map<string, JsonRouteEntry>();
  const checkApiKey = apiKeyCheck(options.auth);
  const bodyLimit = parseByteLimit(options.limits?.bodyBytes ?? '100kb');
  const maxDepth = options.limits?.maxJsonDepth ?? 64;
  const rawPaths = new Set<string>();
  /** Express middleware running a JSON or raw-body route's auth check. */
  const authorizeRoute =
    (entry: JsonRouteEntry): RequestHandler =>
    (req, _res, next) => {
      entry.authorize(req.headers);
      next();
    };
  const verbOf = (entry: JsonRouteEntry) => entry.method.toLowerCase() as 'post' | 'put' | 'patch';
  /** Checks and registers a JSON or raw-body route for the plain listener. */
  function fastRoute(
    kind: 'json' | 'raw',
    path: string,
    routeOptions: { method?: string; auth?: string; status?: number },
    handler: JsonRouteEntry['handler'],
  ): JsonRouteEntry {
    const what = kind === 'json' ? 'jsonRoute' : 'rawRoute';
    const method = routeOptions.method ?? 'POST';
    const auth = routeOptions.auth ?? 'prediction';
    if (typeof path !== 'string' || !path.startsWith('/') || /[:*?(]/.test(path)) {
      throw new TypeError(`${what}: path must be a literal path starting with '/', got ${String(path)}`);
    }
    if (fastRoutes.has(`${method} ${path}`)) {
      throw new TypeError(`${what}: ${method} ${path} is declared twice`);
    }
    const protect = auth === 'apiKey' || (auth === 'prediction' && options.auth?.protectPredictions === true);
    const entry: JsonRouteEntry = {
      kind,
      method,
      path,
      status: routeOptions.status ?? 200,
      limit: bodyLimit,
      authorize: protect ? checkApiKey : () => {},
      handler,
    };
    fastRoutes.set(`${method} ${path}`, entry);
    return entry;
  }

  const context: ServiceContext = {
    name,
    version,
    logger,
    metrics,
    models,
    requireApiKey: requireApiKey(options.auth),
    predictionAuth: options.auth?.protectPredictions
      ? requireApiKey(options.auth)
      : (_req, _res, next) => {
          next();
        },
    validate,
    model(key) {
      const served = models.get(key);
      if (!served) throw new HttpError(404, 'model_not_found', `no model named '${key}'`);
      return served.model;
    },
    onClose(closeable) {
      closeables.push(closeable);
    },
    jsonRoute(path, routeOptions, handler) {
      const entry = fastRoute('json', path, routeOptions, handler as JsonRouteHandler<z.ZodType>);
      entry.schema = routeOptions.body;
      router[verbOf(entry)](path, authorizeRoute(entry), validate(routeOptions.body), async (req, res) => {
        const value = await (entry.handler as JsonRouteHandler<z.ZodType>)(req.body, {
          requestId: res.locals.requestId as string,
          headers: req.headers,
        });
        res.status(entry.status).json(value);
      });
    },
    rawRoute(path, routeOptions, handler) {
      const entry = fastRoute('raw', path, routeOptions, handler);
      entry.limit = parseByteLimit(routeOptions.limit ?? bodyLimit);
      rawPaths.add(path);
      router[verbOf(entry)](
        path,
        authorizeRoute(entry),
        express.raw({ type: () => true, limit: entry.limit }),
        async (req, res) => {
          const value = await (entry.handler as RawRouteHandler)(
            Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
            rawRequest(req, res.locals.requestId as string),
          );
          res.status(entry.status).json(value);
        },
      );
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // 2. Request plumbing ---------------------------------------------------------------------------
  app.use((req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-request-id', requestId);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeLabel(req);
      metrics.requestDuration.observe({ route, method: req.method, status: String(res.statusCode) }, seconds);
      logger.info(
        { requestId, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    });
    if (!accepting) res.setHeader('Connection', 'close');
    next();
  });
  app.use(
    express.json({
      limit: bodyLimit,
      // Accept bodies sent without a JSON content type too: clients (curl -d) forget it.
      type: (req) => {
        if (rawPaths.size > 0 && rawPaths.has(pathOf(req.url))) return false;
        const type = req.headers['content-type'];
        return type === undefined || /json/i.test(String(type));
      },
      strict: false,
    }),
  );

  app.use((req, _res, next) => {
    if (req.body !== null && typeof req.body === 'object' && jsonDepthExceeds(req.body, maxDepth)) {
      throw new HttpError(400, 'too_deeply_nested', `request body nests deeper than ${maxDepth} levels`);
    }
    next();
  });

  // 3. Built-in routes ----------------------------------------------------------------------------
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: name, version });
  });

  app.get('/readyz', async (_req, res) => {
    const reasons: Record<string, string> = {};
    if (!accepting) reasons.shutdown = 'service is shutting down';
    if (models.size === 0 && options.models !== undefined) reasons.models = 'no models loaded';
    const names = Object.keys(readiness);
    const results = await Promise.all(names.map((n) => runCheck(readiness[n], readinessTimeoutMs)));
    names.forEach((n, i) => {
      if (results[i] !== null) reasons[n] = results[i] as string;
    });
    const ready = Object.keys(reasons).length === 0;
    res.status(ready ? 200 : 503).json({ ready, models: [...models.keys()], reasons });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.contentType);
    res.send(await metrics.metrics());
  });

  app.get('/monitoring', async (_req, res) => {
    if (!options.monitoringReport)
      throw new HttpError(404, 'not_configured', 'no monitoring report configured');
    res.json(await options.monitoringReport());
  });

  app.get('/models', (_req, res) => {
    res.json({
      models: [...models.entries()].map(([key, served]) => ({
        key,
        name: served.model.name,
        version: served.model.version,
        stage: served.stage ?? 'production',
        specHash: served.specHash ?? null,
        inputs: served.model.inputs ?? [],
        outputs: served.model.outputs ?? [],
      })),
    });
  });

  options.routes?.(router, context);
  app.use(router);

  // 4. 404 / 405 and errors -----------------------------------------------------------------------
  app.use((req, res, next) => {
    const allowed = allowedMethods(
      (app as unknown as { router: { stack: LayerLike[] } }).router.stack,
      req.path,
    );
    if (allowed.size > 0) {
      res.setHeader('Allow', [...allowed].sort().join(', '));
      return next(new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}`));
    }
    next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));

  const handler = createFastHandler(
    {
      routes: fastRoutes,
      maxDepth,
      logger,
      requestId: (incoming) => (incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID()),
      accepting: () => accepting,
      observe: (route, method, status, seconds) =>
        metrics.requestDuration.observe({ route, method, status: String(status) }, seconds),
      jsonDepthExceeds,
    },
    app as unknown as (req: IncomingMessage, res: ServerResponse) => void,
  );

  return {
    app,
    handler,
    context,
    get accepting() {
      return accepting;
    },
    stopAccepting() {
      accepting = false;
    },
    close() {
      closing ??= (async () => {
        accepting = false;
        const all = [...closeables];
        if (options.closeModels ?? true)
          for (const served of models.values()) all.push(served.model as Closeable);
        for (const c of all.reverse()) {
          try {
            if (typeof c === 'function') await c();
            else if (typeof c.close === 'function') await c.close();
          } catch (err) {
            logger.error({ err }, 'error while closing');
          }
        }
      })();
      return closing;
    },
  };
}
