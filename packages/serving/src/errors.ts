/**
 * The one HTTP error type and the one error handler of every service (CONVENTIONS 8): every error
 * leaves as `{ error: { code, message, details?, requestId } }`; unknown errors are logged with the
 * request id and answered 500 without a stack trace.
 */
import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';

/** An error with an HTTP status, a stable machine-readable code and optional details. */
export class HttpError extends Error {
  override name = 'HttpError';
  /** Extra headers to send with the error (e.g. `Retry-After`). */
  headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`status: expected an HTTP error status 400..599, got ${String(status)}`);
    }
  }
}

/** Thrown when a bounded queue is full; the service maps it to 503 with `Retry-After`. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(
    message: string,
    /** Seconds a client should wait before retrying. */
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
  }
}

// body-parser error types that are the client's fault, with the code we answer.
const BODY_ERRORS: Record<string, string> = {
  'entity.parse.failed': 'malformed_json',
  'entity.too.large': 'payload_too_large',
  'encoding.unsupported': 'unsupported_encoding',
  'charset.unsupported': 'unsupported_charset',
  'request.aborted': 'request_aborted',
  'request.size.invalid': 'bad_request',
  'parameters.too.many': 'bad_request',
  'entity.verify.failed': 'bad_request',
};

/** Converts anything thrown into an `HttpError`; unknown errors become a generic 500. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof QueueFullError) {
    const e = new HttpError(503, 'overloaded', err.message);
    e.headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterSeconds)));
    return e;
  }
  const e = err as {
    type?: string;
    status?: number;
    statusCode?: number;
    expose?: boolean;
    message?: string;
  };
  const status = e?.status ?? e?.statusCode;
  if (e && typeof e.type === 'string' && e.type in BODY_ERRORS && typeof status === 'number') {
    const message = e.type === 'entity.parse.failed' ? 'request body is not valid JSON' : String(e.message);
    return new HttpError(status, BODY_ERRORS[e.type], message);
  }
  if (e && e.expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, 'bad_request', String(e.message));
  }
  return new HttpError(500, 'internal_error', 'internal server error');
}

/** The JSON body of an error answer: `{ error: { code, message, requestId, details? } }`. */
export function errorBody(
  httpError: HttpError,
  requestId: string | undefined,
): { error: Record<string, unknown> } {
  const body: Record<string, unknown> = { code: httpError.code, message: httpError.message, requestId };
  if (httpError.details !== undefined) body.details = httpError.details;
  return { error: body };
}

/** Express error handler: JSON body, request id, no stack; logs 5xx with the stack. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const httpError = toHttpError(err);
    const requestId = res.locals.requestId as string | undefined;
    if (httpError.status >= 500) {
      logger.error({ err, requestId, method: req.method, path: req.path }, 'request failed');
    } else {
      logger.debug({ requestId, code: httpError.code, status: httpError.status }, httpError.message);
    }
    for (const [key, value] of Object.entries(httpError.headers)) res.setHeader(key, value);
    res.status(httpError.status).json(errorBody(httpError, requestId));
  };
}
