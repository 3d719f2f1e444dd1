/**
 * Request validation with zod: a bad request gets 400 with every failing field and its reason.
 */
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { HttpError } from './errors.js';

/** One failing field: its path (`items.3.price`, or `(root)`) and why it failed. */
export interface FieldIssue {
  path: string;
  message: string;
  code: string;
}

/** Formats zod issues as `{ path, message, code }`, one per failing field. */
export function formatIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(root)' : issue.path.map((p) => String(p)).join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

/**
 * Parses a value with a zod schema, throwing `HttpError(400, 'invalid_request')` listing every issue.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where = 'body'): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = formatIssues(result.error);
    throw new HttpError(
      400,
      'invalid_request',
      `invalid request ${where}: ${issues.length} issue(s)`,
      issues,
    );
  }
  return result.data;
}

/**
 * Middleware validating `req.body` (or `req.query` / `req.params`) against a zod schema; the parsed
 * value replaces the body, so handlers see the schema's output type. For the query, the parsed
 * value is put on `res.locals.query` because express 5 makes `req.query` read-only.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  where: 'body' | 'query' | 'params' = 'body',
): RequestHandler {
  return (req, res, next) => {
    // A missing or non-JSON body arrives as undefined: validate it as such so the reason is clear.
    const parsed = parseOrThrow(schema, req[where], where);
    if (where === 'body') req.body = parsed;
    else if (where === 'query') res.locals.query = parsed;
    else req.params = parsed as typeof req.params;
    next();
  };
}
