import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LULC_CLASSES } from '../src/modalities.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { expectValid, ogcSchemas } from './helpers/ogc-schemas.js';

/** What client-facing documents and pages promise, checked without a browser: values computed by hand. */
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());

describe('TileJSON centre', () => {
  it('sentinel2-tci: the zoom where the 1.19 x 1.01 degree scene fits 512 px (9), inside 6..14', async () => {
    // Mercator spans: 1.1904 deg * 111319.5 m = 132.5 km across; 1.0142 deg / cos(32.01 deg) * 111319.5 m = 133.1 km
    // high. floor(log2(2 * 40075017 m / 133.1 km)) = floor(log2(602)) = 9.
    const { body } = await app.getJson('/collections/sentinel2-tci/map/tiles/WebMercatorQuad/tilejson.json');
    expect(body.center[2]).toBe(9);
    expectValid(ogcSchemas().tileJson, body, 'TileJSON');
  });

  it('an ad hoc 224 px chip (range 0..18) is centred at 14, where its data is, not at 9', async () => {
    // 0.02271 deg * 111319.5 m = 2.53 km; 0.02064 deg / cos(25.32 deg) * 111319.5 m = 2.54 km:
    // floor(log2(2 * 40075017 / 2542)) = floor(log2(31531)) = 14.
    const source = encodeURIComponent(`${app.fixtures.url}/terramind-examples/S2RGB/282D_485L_3_3.tif`);
    const { body } = await app.getJson(`/collections/S2RGB/map/tiles/WebMercatorQuad/tilejson.json?S2RGB=${source}`);
    expect([body.minzoom, body.maxzoom]).toEqual([0, 18]);
    expect(body.center[2]).toBe(14);
  });
});

describe('tileset item links', () => {
  it('end with PNG (OpenLayers OGCMapTile takes the last one), each typed and templated', async () => {
    const { body } = await app.getJson('/collections/sentinel2-tci/map/tiles/WebMercatorQuad');
    const items = body.links.filter((link: { rel: string }) => link.rel === 'item');
    expect(items.map((link: { type: string }) => link.type)).toEqual(['image/jpeg', 'image/webp', 'image/png']);
    for (const link of items) expect(link.templated).toBe(true);
    // mediaTypes keep the service's preference order.
    expect(body.mediaTypes).toEqual(['image/png', 'image/webp', 'image/jpeg']);
  });
});

describe('pages', () => {
  it('a collection page has the map, the URLs to copy and the recipes for that collection', async () => {
    const html = await (await app.get('/collections/parana-dem?f=html')).text();
    expect(html).toContain(`data-tilejson="${app.url}/collections/parana-dem/map/tiles/WebMercatorQuad/tilejson.json"`);
    expect(html).toContain(`value="${app.url}/collections/parana-dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}?f=png"`);
    expect(html).toContain(`gdalinfo "OGCAPI:${app.url}/collections/parana-dem"`);
    expect(html).toContain('iface.addRasterLayer(&#34;OGCAPI:');
    expect(html).toContain('/vendor/maplibre-gl/maplibre-gl.css');
    expect(html).toContain('<link rel="icon" href="/web/favicon.svg"');
  });

  it('/api?f=html is Swagger UI from local assets; /api stays the OpenAPI JSON', async () => {
    const page = await app.get('/api?f=html');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('/vendor/swagger-ui/swagger-ui-bundle.js');
    expect(html).toContain(`data-url="${app.url}/api?f=json"`);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)[a-z]/i);
    const json = await app.get('/api');
    expect(json.headers.get('content-type')).toBe('application/vnd.oai.openapi+json;version=3.0');
  });

  it('vendored bundles are served with their types; anything not listed is a 404', async () => {
    const cases: [string, RegExp][] = [
      ['/vendor/ol/ol.js', /^text\/javascript/],
      ['/vendor/ol/ol.css', /^text\/css/],
      ['/vendor/maplibre-gl/maplibre-gl.mjs', /^text\/javascript/],
      ['/vendor/maplibre-gl/maplibre-gl-worker.mjs', /^text\/javascript/],
      ['/vendor/swagger-ui/swagger-ui-bundle.js', /^text\/javascript/],
      ['/web/viewer.js', /^text\/javascript/],
      ['/web/favicon.svg', /^image\/svg\+xml/],
      ['/viewer', /^text\/html/],
    ];
    for (const [path, type] of cases) {
      const response = await app.get(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toMatch(type);
    }
    for (const path of ['/vendor/ol/package.json', '/vendor/..%2Fpackage.json/x', '/web/..%2F.npmrc', '/web/index.html']) {
      expect((await app.get(path)).status, path).toBe(404);
    }
  });

  it('/modalities gives the legends the renderers use', async () => {
    const { body } = await app.getJson('/modalities');
    const byId = Object.fromEntries(body.modalities.map((m: { id: string }) => [m.id, m]));
    expect(byId.LULC.legend.classes.map((c: { name: string }) => c.name)).toEqual(LULC_CLASSES.slice(1).map((c) => c.name));
    expect(byId.NDVI.legend).toMatchObject({ kind: 'ramp', min: -1, max: 1, unit: '-1..1' });
    // The NDVI default ramp is ColorBrewer RdYlGn, 11 classes, red to green.
    expect(byId.NDVI.legend.colors[0]).toBe('#a50026');
    expect(byId.NDVI.legend.colors.at(-1)).toBe('#006837');
    expect(byId.DEM.legend).toMatchObject({ kind: 'ramp', min: null, max: null, unit: 'm' });
    expect(byId.S1GRD.legend.kind).toBe('composite');
  });
});
