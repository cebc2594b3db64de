import { Hono } from 'hono';
import { getTileMatrixSet, listTileMatrixSets } from '../grid/tms.js';
import { tileMatrixSetsDocument } from '../ogc/tilesets.js';
import type { AppContext } from './context.js';
import { baseUrl, documentFormat } from './negotiate.js';
import { sendDocument } from './respond.js';
import { htmlPage } from './html.js';

/** `/tileMatrixSets` and the official definitions, served byte for byte from the OGC registry files. */
export function tileMatrixSetRoutes(ctx: AppContext): Hono {
  const app = new Hono();

  app.get('/', (c) => sendDocument(c, 'Tile matrix sets', tileMatrixSetsDocument(baseUrl(c, ctx.config.PUBLIC_URL), listTileMatrixSets())));

  app.get('/:tileMatrixSetId', (c) => {
    const entry = getTileMatrixSet(c.req.param('tileMatrixSetId'));
    c.header('vary', 'Accept');
    if (documentFormat(c) === 'html') return c.html(htmlPage(entry.definition.title, entry.definition));
    return c.body(entry.json, 200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=86400' });
  });

  return app;
}
