import { Hono, type Context } from 'hono';
import { notFound } from '../errors.js';
import { resolveTile, type TileMatrixLimits } from '../grid/tiles.js';
import { getTileMatrixSet, listTileMatrixSets } from '../grid/tms.js';
import { tileJsonDocument, tilesetDocument, tilesetsListDocument, tileTemplate } from '../ogc/tilesets.js';
import type { CollectionView } from '../ogc/collections.js';
import type { AppContext } from './context.js';
import { escapeHtml } from './html.js';
import { baseUrl, queryRecord, tileFormat } from './negotiate.js';
import { documentHeaders, sendDocument } from './respond.js';

/** Map tiles of one collection: tilesets list, tileset metadata, TileJSON and the tiles themselves. */
export function tileRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const resolve = (c: Context) => ctx.collections.resolve(c.req.param('collectionId') ?? '', queryRecord(c));
  const base = (c: Context) => baseUrl(c, ctx.config.PUBLIC_URL);

  app.get('/', async (c) => {
    const collection = resolve(c);
    const sets = await Promise.all(
      listTileMatrixSets().map(async (tms) => ({ tms, limits: await ctx.tiles.limits(collection, tms, c.req.raw.signal) })),
    );
    return sendDocument(c, `${collection.title}: map tilesets`, tilesetsListDocument(base(c), collection, sets));
  });

  app.get('/:tileMatrixSetId', async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    const collection = resolve(c);
    const bounds = await ctx.collections.bounds(collection, c.req.raw.signal);
    const limits = await ctx.tiles.limits(collection, tms, c.req.raw.signal);
    const document = tilesetDocument(base(c), collection, tms, limits, bounds);
    return sendDocument(c, document.title, document, { html: previewHtml(base(c), collection, tms.definition.id, limits) });
  });

  app.get('/:tileMatrixSetId/tilejson.json', async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    if (tms.definition.id !== 'WebMercatorQuad') {
      throw notFound('TileJSON describes XYZ tiles in WebMercatorQuad only; use /WebMercatorQuad/tilejson.json.');
    }
    const collection = resolve(c);
    const bounds = await ctx.collections.bounds(collection, c.req.raw.signal);
    const document = tileJsonDocument(base(c), collection, bounds, { min: collection.minzoom, max: ctx.tiles.maxZoomIndex(collection, tms) });
    return c.body(JSON.stringify(document), 200, { 'content-type': 'application/json', ...documentHeaders(c, ctx.config.PUBLIC_URL) });
  });

  app.get('/:tileMatrixSetId/:tileMatrix/:tileRow/:tileCol', async (c) => {
    const tms = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    const address = { tileMatrix: c.req.param('tileMatrix'), tileRow: c.req.param('tileRow'), tileCol: c.req.param('tileCol') };
    // Cheap checks first, so malformed or impossible tiles never touch the source.
    resolveTile(tms, address);
    const format = tileFormat(c);
    const collection = resolve(c);
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
