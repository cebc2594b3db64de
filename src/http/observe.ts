import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/**
 * Per request: Prometheus counters and latency by method, route pattern and status, the in-flight gauge the
 * drain waits on, and an access log line (debug level: tiles are many; errors are logged by the error handler).
 */
export function observe(metrics: Metrics, logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    metrics.httpInFlight.inc();
    try {
      await next();
    } finally {
      metrics.httpInFlight.dec();
      const seconds = (performance.now() - started) / 1000;
      const labels = { method: c.req.method, route: routeLabel(c), status: String(c.res.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpSeconds.observe(labels, seconds);
      logger.debug(
        { method: c.req.method, path: c.req.path, route: labels.route, status: c.res.status, ms: Math.round(seconds * 10_000) / 10, cache: c.res.headers.get('x-cache') ?? undefined },
        'request',
      );
    }
  };
}

/** The pattern of the handler that answered ('/collections/:collectionId'), or 'unmatched' for 404s of no route. */
export function routeLabel(c: Context): string {
  const handlers = matchedRoutes(c).filter((route) => route.method !== 'ALL');
  return handlers.at(-1)?.path ?? 'unmatched';
}
