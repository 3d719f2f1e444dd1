/**
 * API-key authentication for routes that change state. Keys are compared in constant time: both
 * sides are hashed to equal-length SHA-256 digests before `timingSafeEqual`, so neither the key's
 * content nor its length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

/** Authentication options of a service. */
export interface AuthOptions {
  /** Accepted API keys. With none, state-changing routes are refused (403), never left open. */
  apiKeys: readonly string[];
  /** Header carrying the key; `Authorization: Bearer <key>` is accepted too. Default `x-api-key`. */
  header?: string;
  /** Require a key on prediction (read-only) routes as well. Default false. */
  protectPredictions?: boolean;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** True when `candidate` equals one of `keys`, compared in constant time per key. */
export function apiKeyMatches(candidate: string, keys: readonly string[]): boolean {
  const c = digest(candidate);
  let ok = false;
  // Compare against every key (no early exit) so the position of the matching key does not leak.
  for (const key of keys) ok = timingSafeEqual(c, digest(key)) || ok;
  return ok;
}

/**
 * A check of a request's headers for a valid API key: throws HttpError 401 when missing, 403 when
 * wrong. Shared by the express middleware and the plain listener of JSON routes.
 */
export function apiKeyCheck(options: AuthOptions | undefined): (headers: IncomingHttpHeaders) => void {
  const keys = options?.apiKeys ?? [];
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'string' || key.length < 8) {
      throw new TypeError(`auth.apiKeys[${i}]: expected a string of at least 8 characters`);
    }
  }
  const header = (options?.header ?? 'x-api-key').toLowerCase();
  return (headers) => {
    const raw = headers[header];
    let provided = Array.isArray(raw) ? raw[0] : raw;
    const authorization = headers.authorization;
    if (!provided && authorization?.startsWith('Bearer ')) provided = authorization.slice(7);
    if (!provided) throw new HttpError(401, 'unauthorized', `missing API key (header ${header})`);
    if (keys.length === 0 || !apiKeyMatches(provided, keys)) {
      throw new HttpError(403, 'forbidden', 'invalid API key');
    }
  };
}

/** Middleware requiring a valid API key; 401 when missing, 403 when wrong. */
export function requireApiKey(options: AuthOptions | undefined): RequestHandler {
  const check = apiKeyCheck(options);
  return (req, _res, next) => {
    check(req.headers);
    next();
  };
}
