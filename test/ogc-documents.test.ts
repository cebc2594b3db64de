import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_CLASSES } from '../src/ogc/common.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { expectValid, ogcSchemas } from './helpers/ogc-schemas.js';
import { slippyTile } from './helpers/tiles.js';

/**
 * Every document against the official schemas, plus what the Tiles ETS, GDAL and OpenLayers read from them
 * (docs/ogcapi.md §2, §4.2, §5): absolute hrefs, rel on every link, typed templated item links, limits.
 */
let app: TestApp;
const schemas = ogcSchemas();
const OGC_REL = 'http://www.opengis.net/def/rel/ogc/1.0';

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

function expectAbsoluteLinks(document: { links: { href: string; rel: string }[] }) {
  for (const link of document.links) {
    expect(link.rel, JSON.stringify(link)).toBeTruthy();
    expect(link.href.startsWith(app.url), link.href).toBe(true);
  }
}

describe('landing page and conformance', () => {
  it('landing page is JSON by default, valid, with the links clients follow', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const response = await app.get('/', accept ? { accept } : {});
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await response.json()) as any;
      expectValid(schemas.landingPage, body, 'landing page');
      expectAbsoluteLinks(body);
      const rels = body.links.map((l: { rel: string }) => l.rel);
      for (const rel of ['self', 'service-desc', 'service-doc', 'data', `${OGC_REL}/conformance`, `${OGC_REL}/tiling-schemes`]) {
        expect(rels).toContain(rel);
      }
      const serviceDesc = body.links.find((l: { rel: string }) => l.rel === 'service-desc');
      expect(serviceDesc.type).toBe('application/vnd.oai.openapi+json;version=3.0');
    }
  });

  it('landing page is HTML for f=html and for a browser Accept, and says Vary: Accept', async () => {
    const browser = await app.get('/', { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
    expect(browser.headers.get('content-type')).toMatch(/^text\/html/);
    expect(browser.headers.get('vary')).toMatch(/Accept/);
    const html = await browser.text();
    expect(html).toContain('<h1>TerraMind OGC API</h1>');
    expect(html).toContain(`href="${app.url}/conformance"`);
    const forced = await app.get('/?f=html', { accept: 'application/json' });
    expect(forced.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('conformance declares Tiles core and is valid', async () => {
    const { response, body } = await app.getJson('/conformance');
    expect(response.status).toBe(200);
    expectValid(schemas.confClasses, body, 'conformance');
    expect(body.conformsTo).toContain('http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core');
    expect(body.conformsTo).toEqual([...CONFORMANCE_CLASSES]);
  });

  it('/api is OpenAPI 3.0 with the Tiles operationIds and the exact media type', async () => {
    const response = await app.get('/api', { accept: 'application/vnd.oai.openapi+json;version=3.0' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.oai.openapi+json;version=3.0');
    const api = (await response.json()) as any;
    expect(api.openapi).toMatch(/^3\.0\./);
    type Operation = { operationId: string; parameters: { $ref?: string }[]; responses: object };
    const operations = Object.entries(api.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
    const ids = operations.map(({ op }) => op.operationId);
    expect(ids).toEqual(expect.arrayContaining(['collection.map.getTile', 'collection.map.getTileSet', 'collection.map.getTileSetsList', 'getTileMatrixSetsList', 'getTileMatrixSet']));
    expect(ids).toEqual(expect.arrayContaining(['getProcesses', 'getProcessDescription', 'execute', 'getJobs', 'getStatus', 'dismiss', 'getResult']));
    expect(new Set(ids).size).toBe(ids.length);
    // Every $ref points at a component that exists.
    const text = JSON.stringify(api);
    for (const [, kind, name] of text.matchAll(/"#\/components\/(\w+)\/([\w-]+)"/g)) {
      expect(api.components[kind]?.[name], `${kind}/${name}`).toBeDefined();
    }
    expect(api.paths['/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}'].get.responses['404']).toBeDefined();
    // OAS 3.0 rules a validator (the ETS uses openapi4j) checks: each {variable} of a path is a required path
    // parameter of its operations, parameters have name/in/schema, operations have responses.
    const resolve = (param: { $ref?: string }) => (param.$ref ? api.components.parameters[param.$ref.split('/').pop()!] : param);
    for (const { path, method, op } of operations) {
      const params = op.parameters.map(resolve);
      for (const param of params) expect(param, `${path}: ${JSON.stringify(param)}`).toMatchObject({ name: expect.any(String), in: expect.stringMatching(/^(path|query|header)$/), schema: expect.any(Object) });
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        expect(params.find((p: { name: string; in: string }) => p.name === name && p.in === 'path'), `${path} declares ${name}`).toMatchObject({ required: true });
      }
      expect(params.filter((p: { in: string }) => p.in === 'path')).toHaveLength([...path.matchAll(/\{(\w+)\}/g)].length);
      const names = params.map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
      expect(new Set(names).size, `${path} has duplicate parameters`).toBe(names.length);
      expect(Object.keys(op.responses), `${method} ${path}`).toContain('200');
    }
    // Render parameters come from the renderers' own schemas.
    expect(api.components.parameters['render-rescale'].description).toMatch(/S2RGB/);
    expect(api.components.parameters['render-hillshade'].description).toMatch(/DEM/);
    expect(api.components.parameters.sourceS2L2A).toMatchObject({ name: 'S2L2A', in: 'query' });
  });
});

describe('collections', () => {
  it('/collections lists the configured collections with one CRS84 bbox each (GDAL needs exactly one)', async () => {
    const { response, body } = await app.getJson('/collections');
    expect(response.status).toBe(200);
    expectValid(schemas.collections, body, 'collections');
    expectAbsoluteLinks(body);
    const ids = body.collections.map((c: { id: string }) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['sentinel2-tci', 'swiss-dem', 'parana-s2l2a', 'tanzania-lulc']));
    const tci = body.collections.find((c: { id: string }) => c.id === 'sentinel2-tci');
    expect(tci.extent.spatial.bbox).toHaveLength(1);
    const [west, south, east, north] = tci.extent.spatial.bbox[0];
    // TCI.tif: 34SGA, EPSG:32634, 109.8 km square around 23.7E 32.0N.
    expect(west).toBeCloseTo(23.106, 2);
    expect(east).toBeCloseTo(24.296, 2);
    expect(south).toBeCloseTo(31.505, 2);
    expect(north).toBeCloseTo(32.519, 2);
    for (const collection of body.collections) {
      expectAbsoluteLinks(collection);
      const tiles = collection.links.find((l: { rel: string }) => l.rel === `${OGC_REL}/tilesets-map`);
      expect(tiles.href).toMatch(/\/map\/tiles$/);
    }
  });

  it('/collections/{id} is a valid collection document', async () => {
    const { response, body } = await app.getJson('/collections/swiss-dem');
    expect(response.status).toBe(200);
    expectValid(schemas.collectionInfo, body, 'collection');
    expect(body.id).toBe('swiss-dem');
    // dem.tif is in the Swiss LV95 grid near Bern/Thun
    const [west, south, east, north] = body.extent.spatial.bbox[0];
    expect(west).toBeGreaterThan(5.9);
    expect(east).toBeLessThan(10.5);
    expect(south).toBeGreaterThan(45.8);
    expect(north).toBeLessThan(47.9);
    expect(east - west).toBeLessThan(0.05);
  });

  it('an ad hoc collection keeps its source (and render parameters) in every link', async () => {
    const source = `${app.fixtures.url}/cog/titiler/TCI.tif`;
    const { response, body } = await app.getJson(`/collections/S2RGB?S2RGB=${encodeURIComponent(source)}&rescale=0,200&f=json`);
    expect(response.status).toBe(200);
    expectValid(schemas.collectionInfo, body, 'ad hoc collection');
    expect(body.id).toBe('S2RGB');
    for (const link of body.links.filter((l: { rel: string }) => l.rel !== 'collection')) {
      const url = new URL(link.href);
      expect(url.searchParams.get('S2RGB'), link.href).toBe(source);
      expect(url.searchParams.get('rescale'), link.href).toBe('0,200');
    }
    const tilesets = body.links.find((l: { rel: string }) => l.rel === `${OGC_REL}/tilesets-map`);
    const list = await app.getJson(tilesets.href);
    expect(list.response.status).toBe(200);
    for (const tileset of list.body.tilesets) {
      for (const link of tileset.links.filter((l: { rel: string }) => l.rel === 'item')) {
        expect(link.href).toContain(`S2RGB=${encodeURIComponent(source)}`);
        expect(link.href).toContain('rescale=0%2C200');
      }
    }
  });
});

describe('tile matrix sets', () => {
  it('/tileMatrixSets lists both sets with self links', async () => {
    const { response, body } = await app.getJson('/tileMatrixSets');
    expect(response.status).toBe(200);
    expect(body.tileMatrixSets.map((t: { id: string }) => t.id)).toEqual(['WebMercatorQuad', 'WorldCRS84Quad']);
    for (const item of body.tileMatrixSets) {
      expectValid(schemas.tileMatrixSetItem, item, 'tileMatrixSet item');
      expectAbsoluteLinks(item);
    }
  });

  it.each(['WebMercatorQuad', 'WorldCRS84Quad'])('/tileMatrixSets/%s is valid TMS 2.0 (JSON Schema and Tiles YAML)', async (id) => {
    const { response, body } = await app.getJson(`/tileMatrixSets/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expectValid(schemas.tileMatrixSet2, body, `${id} (2.0 JSON schema)`);
    expectValid(schemas.tileMatrixSetYaml, body, `${id} (Tiles YAML)`);
    expect(body.uri).toBe(`http://www.opengis.net/def/tilematrixset/OGC/1.0/${id}`);
  });

  it('the TMS 1.0 encoding has the 1.0 keys GDAL 3.6 reads', async () => {
    const { body } = await app.getJson('/tileMatrixSets/WebMercatorQuad?tmsVersion=1.0');
    expect(body.identifier).toBe('WebMercatorQuad');
    expect(body.supportedCRS).toBe('http://www.opengis.net/def/crs/EPSG/0/3857');
    expect(body.tileMatrix[0]).toMatchObject({ identifier: '0', matrixWidth: 1, tileWidth: 256 });
    expect(body.tileMatrix[0].topLeftCorner[0]).toBeCloseTo(-20037508.3427892, 4);
  });
});

describe('tilesets', () => {
  const base = '/collections/sentinel2-tci/map/tiles';

  it('the tilesets list is valid and carries what the Tiles ETS reads', async () => {
    const { response, body } = await app.getJson(base);
    expect(response.status).toBe(200);
    expectAbsoluteLinks(body);
    expect(body.tilesets).toHaveLength(2);
    for (const tileset of body.tilesets) {
      expectValid(schemas.tileSetItem, tileset, 'tileset item');
      expect(tileset.tileMatrixSetId).toMatch(/^(WebMercatorQuad|WorldCRS84Quad)$/);
      expect(tileset.tileMatrixSetURI).toBe(`http://www.opengis.net/def/tilematrixset/OGC/1.0/${tileset.tileMatrixSetId}`);
      expect(tileset.tileMatrixSetLimits[0].tileMatrix).toBe('0');
      const self = tileset.links.find((l: { rel: string; type: string }) => l.rel === 'self' && l.type === 'application/json');
      expect(self).toBeDefined();
      expect(tileset.links.some((l: { href: string }) => ['{tileMatrix}', '{tileRow}', '{tileCol}'].every((v) => l.href.includes(v)))).toBe(true);
    }
  });

  it.each(['WebMercatorQuad', 'WorldCRS84Quad'])('%s tileset metadata is valid against both official schemas', async (id) => {
    const { response, body } = await app.getJson(`${base}/${id}`);
    expect(response.status).toBe(200);
    expectValid(schemas.tileSet, body, 'tileset (Tiles YAML)');
    expectValid(schemas.tileSet2, body, 'tileset (TMS 2.0 JSON)');
    expectAbsoluteLinks(body);
    expect(body.dataType).toBe('map');
    expect(body.tileMatrixSet.id).toBe(id);
    // Limits are contiguous from level 0 up to the collection's maxzoom (14).
    expect(body.tileMatrixSetLimits.map((l: { tileMatrix: string }) => l.tileMatrix)).toEqual(Array.from({ length: 15 }, (_, i) => String(i)));
    const items = body.links.filter((l: { rel: string }) => l.rel === 'item');
    expect(items.map((l: { type: string }) => l.type).sort()).toEqual(['image/jpeg', 'image/png', 'image/webp']);
    for (const item of items) {
      expect(item.templated).toBe(true);
      expect(item.href).toContain(`/map/tiles/${id}/{tileMatrix}/{tileRow}/{tileCol}`);
    }
    const schemes = body.links.filter((l: { rel: string }) => l.rel === `${OGC_REL}/tiling-scheme`);
    expect(schemes[0].href).toBe(`${app.url}/tileMatrixSets/${id}`);
    expect(schemes.at(-1).href).toBe(`${app.url}/tileMatrixSets/${id}?tmsVersion=1.0`);
  });

  it('TileJSON 3.0.0 is valid, XYZ-templated and bounded by the data', async () => {
    const { response, body } = await app.getJson(`${base}/WebMercatorQuad/tilejson.json`);
    expect(response.status).toBe(200);
    expectValid(schemas.tileJson, body, 'TileJSON');
    expect(body.tilejson).toBe('3.0.0');
    expect(body.tiles[0]).toBe(`${app.url}/collections/sentinel2-tci/map/tiles/WebMercatorQuad/{z}/{y}/{x}?f=png`);
    expect(body.minzoom).toBe(6);
    expect(body.maxzoom).toBe(14);
    expect(body.bounds[0]).toBeCloseTo(23.106, 2);
    expect(body.center[0]).toBeCloseTo((body.bounds[0] + body.bounds[2]) / 2, 6);
    const other = await app.get(`${base}/WorldCRS84Quad/tilejson.json`);
    expect(other.status).toBe(404);
  });

  it('tileset HTML shows a preview of real tiles', async () => {
    const response = await app.get(`${base}/WebMercatorQuad?f=html`);
    expect(response.status).toBe(200);
    const html = await response.text();
    const src = /<img src="([^"]+)"/.exec(html)?.[1]?.replaceAll('&#38;', '&');
    expect(src).toBeDefined();
    const tile = await app.get(src!);
    expect(tile.status).toBe(200);
    expect(tile.headers.get('content-type')).toBe('image/png');
  });
});

describe('HTTP behaviour', () => {
  it('answers HEAD like GET without a body and sends CORS headers', async () => {
    const response = await fetch(`${app.url}/collections/sentinel2-tci/map/tiles/WebMercatorQuad`, { method: 'HEAD', headers: { origin: 'https://example.org' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.text()).toBe('');
  });

  it('/health and /metrics', async () => {
    const health = await app.getJson('/health');
    expect(health.body.status).toBe('ok');
    // Counters are cumulative over the whole file: read them before and after one new tile and one repeat.
    const counter = async (result: string) => {
      const metrics = await (await app.get('/metrics')).text();
      const line = new RegExp(`^tmogc_cache_requests_total\\{result="${result}",store="memory"\\} (\\d+)$`, 'm').exec(metrics);
      return line ? Number(line[1]) : 0;
    };
    const [miss0, hit0] = [await counter('miss'), await counter('hit')];
    const tile = `/collections/sentinel2-tci/map/tiles/WebMercatorQuad/7/${slippyTile(23.75, 32.05, 7).join('/')}`;
    expect((await app.get(tile)).headers.get('x-cache')).toBe('miss');
    expect([await counter('miss'), await counter('hit')]).toEqual([miss0 + 1, hit0]);
    expect((await app.get(tile)).headers.get('x-cache')).toBe('hit');
    expect([await counter('miss'), await counter('hit')]).toEqual([miss0 + 1, hit0 + 1]);
  });
});
