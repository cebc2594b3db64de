import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { withRequestId } from '../logger.js';

/**
 * One id per request: the caller's `X-Request-Id` when it is a sane token, else the trace id of a W3C
 * `traceparent` (so logs join the caller's trace, e.g. Cloud Run's load balancer), else a new UUID. It is
 * sent back as `X-Request-Id`, put into every log line (src/logger.ts) and into every error body.
 */
const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export function requestIdOf(headers: { get(name: string): string | null | undefined }): string {
  const given = headers.get('x-request-id')?.trim();
  if (given && REQUEST_ID.test(given)) return given;
  const trace = TRACEPARENT.exec(headers.get('traceparent')?.trim().toLowerCase() ?? '')?.[1];
  if (trace && !/^0+$/.test(trace)) return trace;
  return randomUUID();
}

export const requestId: MiddlewareHandler = (c, next) => {
  const id = requestIdOf(c.req.raw.headers);
  return withRequestId(id, async () => {
    await next();
    // After next(): error and not-found responses are built without the context's prepared headers.
    c.res.headers.set('x-request-id', id);
  });
};
