import { Hono } from 'hono';
import type { ResolvedCollection } from '../collections/registry.js';
import { collectionDocument, collectionsDocument } from '../ogc/collections.js';
import type { AppContext } from './context.js';
import { baseUrl, queryRecord } from './negotiate.js';
import { sendDocument } from './respond.js';
import { varyOnClient } from './gdal-legacy.js';
import { linkView } from './link-view.js';
import { collectionHtml } from './pages.js';
import { getTileMatrixSet } from '../grid/tms.js';

const WORLD = [-180, -90, 180, 90] as const;

/** `/collections` (the configured ones) and `/collections/{collectionId}` (configured or ad hoc). */
export function collectionRoutes(ctx: AppContext): Hono {
  const app = new Hono();

  app.get('/', varyOnClient, async (c) => {
    const base = baseUrl(c, ctx.config.PUBLIC_URL);
    const documents = await Promise.all(
      ctx.collections.configured().map(async (entry) => {
        const collection = ctx.collections.resolve(entry.id, {});
        return collectionDocument(base, linkView(c, collection), await boundsOrWorld(ctx, collection));
      }),
    );
    return sendDocument(c, 'Collections', collectionsDocument(base, documents));
  });

  app.get('/:collectionId', varyOnClient, async (c) => {
    const collection = await ctx.collections.resolveAny(c.req.param('collectionId'), queryRecord(c));
    // A single collection reports its source's failure (bad URL, unreachable, not a GeoTIFF) to the client.
    const bounds = await ctx.collections.bounds(collection, c.req.raw.signal);
    const base = baseUrl(c, ctx.config.PUBLIC_URL);
    const view = linkView(c, collection);
    const maxzoom = ctx.tiles.maxZoomIndex(collection, getTileMatrixSet('WebMercatorQuad'));
    return sendDocument(c, collection.title, collectionDocument(base, view, bounds), { html: collectionHtml(base, view, bounds, maxzoom) });
  });

  return app;
}

/** In the list, one broken configured source must not hide the others: it is logged and shown world-wide. */
async function boundsOrWorld(ctx: AppContext, collection: ResolvedCollection): Promise<readonly number[]> {
  try {
    return await ctx.collections.bounds(collection);
  } catch (error) {
    ctx.logger.warn({ err: error, collection: collection.id }, 'collection source could not be opened');
    return WORLD;
  }
}
