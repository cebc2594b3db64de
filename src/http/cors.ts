import type { MiddlewareHandler } from 'hono';

/**
 * CORS for a public read-only API (Access-Control-Allow-Origin: *), for OpenLayers and MapLibre fetching
 * tilesets and tiles cross-origin. Same headers as hono/cors with origin '*', but set on the response after the
 * handler: hono/cors sets them on a placeholder response first, and Hono then rebuilds every handler response
 * around it, which turns a tile's bytes into a stream and costs about a fifth of a cache hit (docs/limits.md).
 */
export function cors(options: { allowMethods: string[]; exposeHeaders: string[] }): MiddlewareHandler {
  const methods = options.allowMethods.join(',');
  const expose = options.exposeHeaders.join(',');
  return (c, next) => {
    if (c.req.method === 'OPTIONS') {
      const headers: Record<string, string> = {
        'access-control-allow-origin': '*',
        'access-control-expose-headers': expose,
        'access-control-allow-methods': methods,
      };
      const requested = c.req.header('access-control-request-headers');
      if (requested) {
        headers['access-control-allow-headers'] = requested.split(',').map((name) => name.trim()).join(',');
        headers.vary = 'Access-Control-Request-Headers';
      }
      return Promise.resolve(new Response(null, { status: 204, headers }));
    }
    return next().then(() => {
      c.res.headers.set('access-control-allow-origin', '*');
      c.res.headers.set('access-control-expose-headers', expose);
    });
  };
}
