import { Hono } from 'hono';
import type { AppContext } from './http/context.js';
import { collectionRoutes } from './http/collections.js';
import { commonRoutes } from './http/common.js';
import { cors } from './http/cors.js';
import { requestBudget } from './http/deadline.js';
import { linkPolicy } from './http/link-hosts.js';
import { errorHandler, notFoundHandler } from './http/errors.js';
import { tileMatrixSetRoutes } from './http/tile-matrix-sets.js';
import { tileRoutes } from './http/tiles.js';

export type { AppContext } from './http/context.js';
export { createContext } from './http/context.js';

/** The web service: one sub-app per OGC resource family, mounted here. */
export function createApp(ctx: AppContext): Hono {
  const app = new Hono({ strict: false });

  // Clients that join a base URL ending in "/" with "/collections" ask for "//collections" (the OGC ETS does).
  app.use('*', async (c, next) => {
    if (c.req.path.includes('//')) {
      const url = new URL(c.req.url);
      return c.redirect(url.pathname.replace(/\/{2,}/g, '/') + url.search, 308);
    }
    await next();
  });

  // Access log at debug level (tiles are many); errors are logged once by the error handler.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    ctx.logger.debug(
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round((performance.now() - started) * 10) / 10, cache: c.res.headers.get('x-cache') ?? undefined },
      'request',
    );
  });

  // Tilesets, tiles and TMS definitions are fetched cross-origin by OpenLayers and MapLibre.
  app.use('*', cors({ allowMethods: ['GET', 'HEAD', 'OPTIONS'], exposeHeaders: ['ETag', 'X-Cache', 'Link', 'Content-Length'] }));

  // Links are built on PUBLIC_URL, or on the Host header only when it is loopback or on LINK_HOSTS.
  app.use('*', linkPolicy(ctx.config, ctx.logger));
  // Everything that reads sources runs under one deadline and one decode budget per request.
  app.use('/collections/*', requestBudget(ctx.config));

  app.route('/', commonRoutes(ctx)); //                                        landing, conformance, api, health, metrics
  app.route('/tileMatrixSets', tileMatrixSetRoutes(ctx)); //                  tiling schemes
  app.route('/collections', collectionRoutes(ctx)); //                        collections
  app.route('/collections/:collectionId/map/tiles', tileRoutes(ctx)); //      tilesets, tiles, TileJSON

  app.notFound(notFoundHandler);
  app.onError(errorHandler(ctx.logger));
  return app;
}
