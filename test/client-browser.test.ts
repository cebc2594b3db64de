import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TILES_SETTLED, alphaCounts, CHROMIUM, launchBrowser, paintedShare, screenshot, tileResponses, type Browser, type WatchedPage } from './helpers/browser.js';
import type { FixtureServer } from './helpers/fixture-server.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * Real browsers on the service's own pages (Debian's Chromium through playwright-core): the viewer (OpenLayers,
 * TileJSON), the collection page (MapLibre from TileJSON), the tileset page (OpenLayers OGCMapTile), the landing
 * page and Swagger UI. Each loads, gets PNG tiles with transparency and logs no console error; screenshots are
 * kept in test-artifacts/. The bundled (random-weights) model is loaded so /health reports it.
 */
let browser: Browser;
let served: TestApp;
let fixtures: FixtureServer;
let base: string;
const BACKGROUND: [number, number, number] = [0xdf, 0xe6, 0xe9];

async function settle(watched: WatchedPage, ready: string): Promise<void> {
  await watched.page.waitForSelector(ready, { timeout: 60_000 });
  // No tile request left open for a moment: the map is drawn.
  await watched.page.waitForLoadState('networkidle', { timeout: 60_000 });
}

async function expectPngTilesWithTransparency(watched: WatchedPage): Promise<void> {
  const tiles = tileResponses(watched.responses);
  expect(tiles.length).toBeGreaterThan(0);
  let transparent = 0;
  let opaque = 0;
  for (const tile of tiles) {
    expect(tile.status(), tile.url()).toBe(200);
    expect(tile.headers()['content-type'], tile.url()).toBe('image/png');
    const counts = await alphaCounts(await tile.body());
    transparent += counts.transparent;
    opaque += counts.opaque;
  }
  // The chips end inside the edge tiles: those are partly transparent, not black.
  expect(transparent).toBeGreaterThan(0);
  expect(opaque).toBeGreaterThan(0);
}

describe.skipIf(!existsSync(CHROMIUM))('browsers on the service pages', () => {
  beforeAll(async () => {
    served = await startTestApp({ model: true });
    fixtures = served.fixtures;
    base = served.url;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it('the viewer shows an input and an output layer with a swipe, the legend, the model and its random-weights warning', async () => {
    // Output LULC with LULC itself among the inputs is the real LULC raster (no generation needed on this branch).
    const lulc = `${fixtures.url}/terramind-examples/LULC/282D_485L_3_3.tif`;
    const url = `${base}/viewer?sample=parana-s2rgb&LULC=${encodeURIComponent(lulc)}&output=LULC&seed=3&mode=swipe&swipe=50`;
    const viewer = await browser.open(url);
    await settle(viewer, 'body[data-ready="true"]');
    await viewer.page.waitForFunction(TILES_SETTLED);
    expect(await viewer.page.textContent('#model')).toContain('terramind-v1-test-random');
    expect(await viewer.page.isVisible('#weights-warning')).toBe(true);
    const legend = (await viewer.page.textContent('#legend')) ?? '';
    for (const name of ['Water', 'Trees', 'Crops', 'Built area']) expect(legend).toContain(name);
    expect(await viewer.page.textContent('#progress-text')).toMatch(/^0 loading, \d+ loaded$/);
    // Both layers were requested: the sample's tiles and the LULC tiles.
    const tiles = tileResponses(viewer.responses).map((r) => r.url());
    expect(tiles.some((u) => u.includes('/collections/parana-s2rgb/'))).toBe(true);
    expect(tiles.some((u) => u.includes('/collections/LULC/'))).toBe(true);
    await expectPngTilesWithTransparency(viewer);
    const shot = await screenshot(viewer.page, 'viewer-swipe.png');
    expect(await paintedShare(shot, { left: 340, top: 60, width: 840, height: 700 }, BACKGROUND)).toBeGreaterThan(0.2);
    expect(viewer.errors).toEqual([]);
  });

  it('the viewer keeps its state in the URL (deep links) and side by side shows two maps', async () => {
    const lulc = `${fixtures.url}/terramind-examples/LULC/282D_485L_3_3.tif`;
    const viewer = await browser.open(`${base}/viewer?sample=parana-s2rgb&LULC=${encodeURIComponent(lulc)}&output=LULC`);
    await settle(viewer, 'body[data-ready="true"]');
    await viewer.page.selectOption('#mode', 'side');
    await viewer.page.fill('#seed', '7');
    await viewer.page.dispatchEvent('#seed', 'change');
    await viewer.page.waitForFunction(TILES_SETTLED);
    const search = new URL(viewer.page.url()).searchParams;
    expect(search.get('sample')).toBe('parana-s2rgb');
    expect(search.get('LULC')).toBe(lulc);
    expect(search.get('output')).toBe('LULC');
    expect(search.get('seed')).toBe('7');
    expect(search.get('mode')).toBe('side');
    expect(search.get('map')).toMatch(/^\d+(\.\d+)?\/-?\d+\.\d+\/-?\d+\.\d+$/);
    expect(await viewer.page.isVisible('#map-output')).toBe(true);
    expect(await viewer.page.isVisible('#swipe-label')).toBe(false);
    // Reopening the link restores the view it names.
    const again = await browser.open(viewer.page.url());
    await settle(again, 'body[data-ready="true"]');
    await again.page.waitForFunction(TILES_SETTLED);
    expect(await again.page.inputValue('#mode')).toBe('side');
    expect(await again.page.inputValue('#seed')).toBe('7');
    expect(await again.page.inputValue('#output')).toBe('LULC');
    expect(new URL(again.page.url()).searchParams.get('map')).toBe(search.get('map'));
    const shot = await screenshot(again.page, 'viewer-side-by-side.png');
    // Both halves show imagery.
    expect(await paintedShare(shot, { left: 340, top: 60, width: 400, height: 680 }, BACKGROUND)).toBeGreaterThan(0.2);
    expect(await paintedShare(shot, { left: 780, top: 60, width: 400, height: 680 }, BACKGROUND)).toBeGreaterThan(0.2);
    expect([...viewer.errors, ...again.errors]).toEqual([]);
  });

  it('the collection page draws a MapLibre map from its TileJSON and lists the URLs to copy', async () => {
    const page = await browser.open(`${base}/collections/parana-s2l2a?f=html`);
    await settle(page, '#map[data-idle="true"]');
    await expectPngTilesWithTransparency(page);
    const tilejson = await page.page.inputValue('#url-tilejson');
    expect(tilejson).toBe(`${base}/collections/parana-s2l2a/map/tiles/WebMercatorQuad/tilejson.json`);
    expect(await page.page.inputValue('#url-xyz')).toBe(`${base}/collections/parana-s2l2a/map/tiles/WebMercatorQuad/{z}/{y}/{x}?f=png`);
    expect(await page.page.textContent('body')).toContain(`gdalinfo "OGCAPI:${base}/collections/parana-s2l2a"`);
    const shot = await screenshot(page.page, 'collection-maplibre.png');
    const box = (await page.page.locator('#map').boundingBox())!;
    expect(await paintedShare(shot, { left: Math.round(box.x) + 2, top: Math.round(box.y) + 2, width: Math.round(box.width) - 4, height: Math.round(box.height) - 4 }, BACKGROUND)).toBeGreaterThan(0.05);
    expect(page.errors).toEqual([]);
  });

  it('the sentinel2-tci sample shows the scene on first open', async () => {
    const page = await browser.open(`${base}/collections/sentinel2-tci?f=html`);
    await settle(page, '#map[data-idle="true"]');
    const shot = await screenshot(page.page, 'collection-sentinel2-tci.png');
    const box = (await page.page.locator('#map').boundingBox())!;
    // The whole scene is in view: well over a third of the map is imagery.
    expect(await paintedShare(shot, { left: Math.round(box.x) + 2, top: Math.round(box.y) + 2, width: Math.round(box.width) - 4, height: Math.round(box.height) - 4 }, BACKGROUND)).toBeGreaterThan(0.35);
    expect(page.errors).toEqual([]);
  });

  it('the tileset page shows an OpenLayers OGCMapTile map that takes PNG tiles', async () => {
    const page = await browser.open(`${base}/collections/parana-s2rgb/map/tiles/WebMercatorQuad?f=html`);
    await page.page.waitForFunction("Number(document.getElementById('ogc-map')?.dataset.tilesLoaded ?? 0) > 0", undefined, { timeout: 60_000 });
    await page.page.waitForLoadState('networkidle');
    const requested = (await page.page.evaluate('window.previewTiles')) as string[];
    expect(requested.length).toBeGreaterThan(0);
    for (const src of requested) expect(src).toMatch(/[?&]f=png(&|$)/);
    await expectPngTilesWithTransparency(page);
    await screenshot(page.page, 'tileset-openlayers.png');
    expect(page.errors).toEqual([]);
  });

  it('the landing page and the API documentation load without console errors (favicon included)', async () => {
    const landing = await browser.open(`${base}/?f=html`);
    await landing.page.waitForLoadState('networkidle');
    expect(await landing.page.getAttribute('a[href$="/viewer"]', 'href')).toBe(`${base}/viewer`);
    const favicon = await fetch(`${base}/favicon.ico`);
    expect(favicon.status).toBe(200);
    expect(favicon.headers.get('content-type')).toBe('image/png');
    await screenshot(landing.page, 'landing.png');
    const api = await browser.open(`${base}/api?f=html`);
    await api.page.waitForSelector('.opblock', { timeout: 60_000 });
    const text = (await api.page.textContent('body')) ?? '';
    expect(text).toContain('/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}');
    await screenshot(api.page, 'api-docs.png');
    expect([...landing.errors, ...api.errors]).toEqual([]);
  });
});
