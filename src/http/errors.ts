import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { currentRequestId, type Logger } from '../logger.js';
import { badRequest, isOgcError, OgcError } from '../errors.js';

/**
 * The one place where errors become responses: OGC exception JSON {type, title, status, detail} with
 * Content-Type application/json (the OGC test suites reject application/problem+json). Anything that is
 * not an OgcError is turned into one first: zod failures and malformed URIs are the client's, the rest a 500
 * whose details stay in the log.
 */
export function toOgcError(error: unknown): OgcError {
  if (isOgcError(error)) return error;
  if (error instanceof Error && error.name === 'ZodError') {
    const issues = (error as Error & { issues?: { path: PropertyKey[]; message: string }[] }).issues ?? [];
    const detail = issues.map((issue) => `${issue.path.map(String).join('.') || 'value'}: ${issue.message}`).join('; ');
    return badRequest(`Invalid parameters: ${detail || error.message}`, error);
  }
  if (error instanceof URIError) return badRequest(`Malformed percent-encoding in the URL: ${error.message}`, error);
  if (error instanceof HTTPException) {
    if (error.status === 400) return badRequest(error.message || 'Malformed request', error);
    if (error.status === 404) return new OgcError('not-found', error.message || 'Not found');
    if (error.status === 413) return new OgcError('payload-too-large', error.message || 'Payload too large');
  }
  return new OgcError('internal', 'The server failed to handle this request; the error is logged.', { cause: error });
}

/** The exception body, with the request id (src/http/request-id.ts) so a user's report finds the log lines. */
export function exceptionResponse(error: OgcError, headers: Record<string, string> = {}): Response {
  const requestId = currentRequestId();
  return new Response(JSON.stringify({ ...error.toJSON(), ...(requestId ? { requestId } : {}) }), {
    status: error.status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  });
}

export function errorHandler(logger: Logger) {
  return (error: unknown, c: Context): Response => {
    const ogc = toOgcError(error);
    const log = { status: ogc.status, method: c.req.method, path: c.req.path, detail: ogc.detail };
    if (ogc.status >= 500) logger.error({ ...log, err: error }, 'request failed');
    else logger.debug(log, 'request rejected');
    // RFC 9110: a 401 names the scheme it wants (API keys go as Bearer tokens or X-API-Key). A 503 is a busy
    // service (the decode budget, the generation queue): clients may come back shortly, sooner if it says so.
    const challenge: Record<string, string> = ogc.status === 401 ? { 'www-authenticate': 'Bearer realm="terramind-ogc"' } : {};
    const retry: Record<string, string> = ogc.status === 503 ? { 'retry-after': '1' } : {};
    return exceptionResponse(ogc, { ...retry, ...ogc.headers, ...challenge });
  };
}

export function notFoundHandler(c: Context): Response {
  return exceptionResponse(
    new OgcError('not-found', `No resource at ${c.req.path}. Start at the landing page / or /collections.`),
  );
}
