import { Hono } from 'hono';
import { badRequest } from '../errors.js';
import { getTileMatrixSet, listTileMatrixSets } from '../grid/tms.js';
import { tileMatrixSetV1 } from '../grid/tms10.js';
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
    const version = c.req.query('tmsVersion');
    if (version !== undefined && version !== '1.0' && version !== '2.0') {
      throw badRequest(`tmsVersion must be 1.0 or 2.0, got '${version}'.`);
    }
    if (version === '1.0') return c.json(tileMatrixSetV1(entry.definition), 200, { 'cache-control': 'public, max-age=86400' });
    if (documentFormat(c) === 'html') return c.html(htmlPage(entry.definition.title, entry.definition));
    return c.body(entry.json, 200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=86400' });
  });

  return app;
}
