import { Hono, type Context } from 'hono';
import { notFound } from '../errors.js';
import { resolveTile, type TileMatrixLimits } from '../grid/tiles.js';
import { getTileMatrixSet, listTileMatrixSets } from '../grid/tms.js';
import { tileJsonDocument, tilesetDocument, tilesetsListDocument, tileTemplate, type TilesDataType } from '../ogc/tilesets.js';
import type { CollectionView } from '../ogc/collections.js';
import type { AppContext } from './context.js';
import { escapeHtml } from './html.js';
import { baseUrl, coverageFormat, queryRecord, tileFormat } from './negotiate.js';
import { documentHeaders, sendDocument } from './respond.js';
import { authorizeGeneratedTile } from './auth.js';
import { extendDeadline } from './deadline.js';
import { upstreamTimeout } from '../errors.js';
import { hasMatrixLimitsFlag, varyOnClient, wantsMatrixLimits } from './gdal-legacy.js';
import { linkView } from './link-view.js';
import { tilesetMapHtml } from './pages.js';
import type { ResolvedCollection } from '../collections/registry.js';
import type { TileMatrixSetEntry } from '../grid/tms.js';
import { wholeMatrixLimits } from '../ogc/gdal-legacy.js';

/**
 * Tiles of one collection: tilesets list, tileset metadata, TileJSON (map tiles) and the tiles themselves.
 * Mounted twice: `/map/tiles` (rendered images) and `/coverage/tiles` (GeoTIFF values in physical units).
 */
export function tileRoutes(ctx: AppContext, dataType: TilesDataType = 'map'): Hono {
  const app = new Hono();
  const resolve = (c: Context) => ctx.collections.resolveAny(c.req.param('collectionId') ?? '', queryRecord(c));
  const base = (c: Context) => baseUrl(c, ctx.config.PUBLIC_URL);

  /** The limits this client gets: exact, or whole-matrix for GDAL <= 3.7 (src/ogc/gdal-legacy.ts). */
  const advertisedLimits = async (c: Context, collection: ResolvedCollection, tms: TileMatrixSetEntry) => {
    const limits = await ctx.tiles.limits(collection, tms, c.req.raw.signal);
    if (!wantsMatrixLimits(c)) return limits;
    return wholeMatrixLimits(tms, await ctx.collections.bounds(collection, c.req.raw.signal), limits);
  };

  app.get('/', varyOnClient, async (c) => {
    const collection = await resolve(c);
    const sets = await Promise.all(listTileMatrixSets().map(async (tms) => ({ tms, limits: await advertisedLimits(c, collection, tms) })));
    return sendDocument(c, `${collection.title}: ${dataType} tilesets`, tilesetsListDocument(base(c), linkView(c, collection), sets, dataType));
  });

  app.get('/:tileMatrixSetId', varyOnClient, async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    const collection = await resolve(c);
    const bounds = await ctx.collections.bounds(collection, c.req.raw.signal);
    const limits = await advertisedLimits(c, collection, tms);
    const document = tilesetDocument(base(c), linkView(c, collection), tms, limits, bounds, dataType);
    if (dataType === 'coverage') return sendDocument(c, document.title, document);
    const self = document.links.find((link) => link.rel === 'self')?.href ?? '';
    const map = tilesetMapHtml(self, tms.gridCrs, bounds, ctx.tiles.maxZoomIndex(collection, tms));
    return sendDocument(c, document.title, document, { html: map + previewHtml(base(c), collection, tms.definition.id, limits) });
  });

  app.get('/:tileMatrixSetId/tilejson.json', async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    if (tms.definition.id !== 'WebMercatorQuad' || dataType !== 'map') {
      throw notFound('TileJSON describes XYZ map tiles in WebMercatorQuad only; use /map/tiles/WebMercatorQuad/tilejson.json.');
    }
    const collection = await resolve(c);
    const bounds = await ctx.collections.bounds(collection, c.req.raw.signal);
    const min = Math.max(collection.minzoom, await ctx.tiles.minZoomIndex(collection, tms, c.req.raw.signal));
    const document = tileJsonDocument(base(c), linkView(c, collection), bounds, { min, max: ctx.tiles.maxZoomIndex(collection, tms) });
    return c.body(JSON.stringify(document), 200, { 'content-type': 'application/json', ...documentHeaders(c, ctx.config.PUBLIC_URL) });
  });

  app.get('/:tileMatrixSetId/:tileMatrix/:tileRow/:tileCol', async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    const address = { tileMatrix: c.req.param('tileMatrix'), tileRow: c.req.param('tileRow'), tileCol: c.req.param('tileCol') };
    // Cheap checks first, so malformed or impossible tiles never touch the source.
    resolveTile(tms, address);
    const format = dataType === 'map' ? tileFormat(c) : coverageFormat(c);
    const collection = await resolve(c);
    // GDAL <= 3.7 was given whole-matrix limits: inside them but outside the data it gets the blank tile it expects.
    const request = { collection, tms, ...address, format, limits: hasMatrixLimitsFlag(c) ? ('matrix' as const) : ('exact' as const) };
    if (collection.generation) {
      // Generating costs model time: with API_KEYS set it needs a key (cached tiles may stay public).
      await authorizeGeneratedTile(c, ctx.config, () => ctx.tiles.isCached(request, c.req.raw.signal));
      extendDeadline(c, ctx.config.GENERATION_TIMEOUT_MS, generationTimeout(ctx.config.GENERATION_TIMEOUT_MS));
    }
    const { object, status } = await ctx.tiles.tile(request, c.req.raw.signal);
    const headers: Record<string, string> = {
      etag: object.etag,
      'cache-control': 'public, max-age=3600',
      'x-cache': status,
      vary: 'Accept',
    };
    if (matchesEtag(c.req.header('if-none-match'), object.etag)) {
      return new Response(null, { status: 304, headers });
    }
    return c.body(object.body as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-type': object.contentType });
  });

  return app;
}

function generationTimeout(ms: number): Error {
  return upstreamTimeout(
    `The tile's chips were not generated within GENERATION_TIMEOUT_MS=${ms} ms; they go on being generated and cached, so ask again shortly.`,
  );
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

/** A script-free preview: the tiles of the deepest level that fits in 4x4 tiles, as plain <img> elements. */
function previewHtml(base: string, collection: CollectionView, tmsId: string, limits: TileMatrixLimits[]): string {
  const level = [...limits].reverse().find((l) => l.maxTileRow - l.minTileRow < 4 && l.maxTileCol - l.minTileCol < 4);
  if (!level) return '';
  const template = tileTemplate(base, collection, tmsId, 'png');
  const rows: string[] = [];
  for (let row = level.minTileRow; row <= level.maxTileRow; row += 1) {
    const cells: string[] = [];
    for (let col = level.minTileCol; col <= level.maxTileCol; col += 1) {
      const src = template.replace('{tileMatrix}', level.tileMatrix).replace('{tileRow}', String(row)).replace('{tileCol}', String(col));
      cells.push(`<img src="${escapeHtml(src)}" width="256" height="256" alt="tile ${level.tileMatrix}/${row}/${col}" style="display:block">`);
    }
    rows.push(`<div style="display:flex">${cells.join('')}</div>`);
  }
  return `<h2>Preview (tile matrix ${escapeHtml(level.tileMatrix)})</h2><div style="background:#ddd;display:inline-block">${rows.join('')}</div>`;
}
