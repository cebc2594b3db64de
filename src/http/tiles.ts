import { Hono, type Context } from 'hono';
import { notFound } from '../errors.js';
import { resolveTile, type TileMatrixLimits } from '../grid/tiles.js';
import { getTileMatrixSet, listTileMatrixSets } from '../grid/tms.js';
import { tileJsonDocument, tilesetDocument, tilesetsListDocument, tileTemplate } from '../ogc/tilesets.js';
import type { CollectionView } from '../ogc/collections.js';
import type { AppContext } from './context.js';
import { escapeHtml } from './html.js';
import { baseUrl, queryRecord, tileFormat } from './negotiate.js';
import { sendDocument } from './respond.js';
import { hasMatrixLimitsFlag, varyOnClient, wantsMatrixLimits } from './gdal-legacy.js';
import { linkView } from './link-view.js';
import { tilesetMapHtml } from './pages.js';
import type { ResolvedCollection } from '../collections/registry.js';
import type { TileMatrix, TileMatrixSetEntry } from '../grid/tms.js';
import { wholeMatrixLimits } from '../ogc/gdal-legacy.js';
import { contentTypeOf, encodeImage } from '../render/encode.js';
import { transparentImage } from '../tiles/service.js';

/** Map tiles of one collection: tilesets list, tileset metadata, TileJSON and the tiles themselves. */
export function tileRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const resolve = (c: Context) => ctx.collections.resolve(c.req.param('collectionId') ?? '', queryRecord(c));
  const base = (c: Context) => baseUrl(c, ctx.config.PUBLIC_URL);

  /** The limits this client gets: exact, or whole-matrix for GDAL <= 3.7 (src/ogc/gdal-legacy.ts). */
  const advertisedLimits = async (c: Context, collection: ResolvedCollection, tms: TileMatrixSetEntry) => {
    const limits = await ctx.tiles.limits(collection, tms, c.req.raw.signal);
    if (!wantsMatrixLimits(c)) return limits;
    return wholeMatrixLimits(tms, await ctx.collections.bounds(collection, c.req.raw.signal), limits);
  };

  app.get('/', varyOnClient, async (c) => {
    const collection = resolve(c);
    const sets = await Promise.all(listTileMatrixSets().map(async (tms) => ({ tms, limits: await advertisedLimits(c, collection, tms) })));
    return sendDocument(c, `${collection.title}: map tilesets`, tilesetsListDocument(base(c), linkView(c, collection), sets));
  });

  app.get('/:tileMatrixSetId', varyOnClient, async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    const collection = resolve(c);
    const bounds = await ctx.collections.bounds(collection, c.req.raw.signal);
    const limits = await advertisedLimits(c, collection, tms);
    const document = tilesetDocument(base(c), linkView(c, collection), tms, limits, bounds);
    const self = document.links.find((link) => link.rel === 'self')?.href ?? '';
    const map = tilesetMapHtml(self, tms.gridCrs, bounds, ctx.tiles.maxZoomIndex(collection, tms));
    return sendDocument(c, document.title, document, { html: map + previewHtml(base(c), collection, tms.definition.id, limits) });
  });

  app.get('/:tileMatrixSetId/tilejson.json', async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    if (tms.definition.id !== 'WebMercatorQuad') {
      throw notFound('TileJSON describes XYZ tiles in WebMercatorQuad only; use /WebMercatorQuad/tilejson.json.');
    }
    const collection = resolve(c);
    const bounds = await ctx.collections.bounds(collection, c.req.raw.signal);
    const document = tileJsonDocument(base(c), linkView(c, collection), bounds, { min: collection.minzoom, max: ctx.tiles.maxZoomIndex(collection, tms) });
    return c.body(JSON.stringify(document), 200, { 'content-type': 'application/json' });
  });

  app.get('/:tileMatrixSetId/:tileMatrix/:tileRow/:tileCol', async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    const address = { tileMatrix: c.req.param('tileMatrix'), tileRow: c.req.param('tileRow'), tileCol: c.req.param('tileCol') };
    // Cheap checks first, so malformed or impossible tiles never touch the source.
    resolveTile(tms, address);
    const format = tileFormat(c);
    const collection = resolve(c);
    const blank = hasMatrixLimitsFlag(c) ? await outsideExactLimits(ctx, collection, tms, address, c.req.raw.signal) : undefined;
    if (blank) {
      // Inside the whole-matrix limits GDAL <= 3.7 was given, outside the data: the blank tile GDAL expects.
      const body = await encodeImage(transparentImage(blank.tileWidth, blank.tileHeight), format);
      return c.body(body as Uint8Array<ArrayBuffer>, 200, { 'content-type': contentTypeOf(format), 'cache-control': 'public, max-age=3600', vary: 'Accept' });
    }
    const { object, status } = await ctx.tiles.tile({ collection, tms, ...address, format }, c.req.raw.signal);
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

/** The matrix of a tile that lies inside the matrix but outside the collection's exact limits (up to maxzoom), else undefined. */
async function outsideExactLimits(
  ctx: AppContext,
  collection: ResolvedCollection,
  tms: TileMatrixSetEntry,
  address: { tileMatrix: string; tileRow: string; tileCol: string },
  signal: AbortSignal,
): Promise<TileMatrix | undefined> {
  const { matrix, tileRow, tileCol } = resolveTile(tms, address);
  const limit = (await ctx.tiles.limits(collection, tms, signal)).find((l) => l.tileMatrix === matrix.id);
  if (!limit) return undefined;
  const outside = tileRow < limit.minTileRow || tileRow > limit.maxTileRow || tileCol < limit.minTileCol || tileCol > limit.maxTileCol;
  return outside ? matrix : undefined;
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
