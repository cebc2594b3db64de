import { setMaxListeners } from 'node:events';
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
import { executionAuth } from './http/auth.js';
import { observe } from './http/observe.js';
import { requestId } from './http/request-id.js';
import { webRoutes } from './http/web.js';
import { jobRoutes } from './http/jobs.js';
import { processRoutes } from './http/processes.js';

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

  // One request's signal is listened to by every source, chip and tile it waits for at once (raceAbort,
  // single-flight waiters): more than Node's warning threshold of 10 is normal, not a leak.
  app.use('*', async (c, next) => {
    setMaxListeners(256, c.req.raw.signal);
    await next();
  });

  // Request id in every log line and error body; metrics and the access log (debug level) per request.
  app.use('*', requestId);
  app.use('*', observe(ctx.metrics, ctx.logger));
  // While draining, connections are not reused: each closes after its response, so the drain can finish.
  app.use('*', async (c, next) => {
    await next();
    if (ctx.lifecycle.state === 'draining') c.res.headers.set('connection', 'close');
  });
  // API keys for process execution, by path so they hold for any process route (checked before a 404).
  app.use('/processes/:processId/execution', executionAuth(ctx.config));

  // Tilesets, tiles and TMS definitions are fetched cross-origin by OpenLayers and MapLibre.
  app.use('*', cors({ allowMethods: ['GET', 'HEAD', 'OPTIONS', 'POST', 'DELETE'], exposeHeaders: ['ETag', 'X-Cache', 'Link', 'Content-Length', 'Location', 'Preference-Applied', 'Content-Range', 'Accept-Ranges'] }));

  // Links are built on PUBLIC_URL, or on the Host header only when it is loopback or on LINK_HOSTS.
  app.use('*', linkPolicy(ctx.config, ctx.logger));
  // Everything that reads sources runs under one deadline and one decode budget per request.
  app.use('/collections/*', requestBudget(ctx.config));

  app.route('/', commonRoutes(ctx)); //                                        landing, conformance, api, health, metrics
  app.route('/tileMatrixSets', tileMatrixSetRoutes(ctx)); //                  tiling schemes
  app.route('/collections', collectionRoutes(ctx)); //                        collections
  app.route('/collections/:collectionId/map/tiles', tileRoutes(ctx, 'map')); //           tilesets, tiles, TileJSON
  app.route('/collections/:collectionId/coverage/tiles', tileRoutes(ctx, 'coverage')); // GeoTIFF value tiles
  app.route('/', webRoutes(ctx)); //                                                      viewer, page scripts, vendored libraries, favicon
  app.route('/processes', processRoutes(ctx)); //                             OGC API - Processes
  app.route('/jobs', jobRoutes(ctx)); //                                      jobs, results, dismiss

  app.notFound(notFoundHandler);
  app.onError(errorHandler(ctx.logger));
  return app;
}
