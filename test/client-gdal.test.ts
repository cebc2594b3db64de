import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromArrayBuffer } from 'geotiff';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { expectValid, ogcSchemas } from './helpers/ogc-schemas.js';

/**
 * Debian 12's GDAL 3.6 OGCAPI driver (what QGIS's OGC API source uses on every Debian/Ubuntu LTS) opening
 * configured and ad hoc collections, and gdal_translate through it returning the pixels of the tile route.
 * It gets whole-matrix tileMatrixSetLimits (src/ogc/gdal-legacy.ts), chosen by its request headers or by
 * `limits=matrix`; everyone else keeps the exact limits.
 */
const run = promisify(execFile);
/** GDAL's WMS tile cache in the test's scratch folder: never the repository, never stale tiles from an earlier run. */
const gdalEnv = () => ({ ...process.env, GDAL_DEFAULT_WMS_CACHE_PATH: join(work, 'gdalwmscache') });
const hasGdal = (() => {
  try {
    execFileSync('gdalinfo', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

/** WorldCRS84Quad: level z has 2^(z+1) x 2^z tiles of 256 px, cell size 0.703125 / 2^z degrees. */
const crs84Cell = (z: number) => 0.703125 / 2 ** z;
const CHIP = 'terramind-examples/S2L2A/38D_378R_2_3.tif';

let app: TestApp;
let work: string;

async function gdalJson(source: string, options: string[] = []) {
  const { stdout } = await run('gdalinfo', ['-json', ...options, source], { timeout: 60_000, env: gdalEnv() });
  return JSON.parse(stdout);
}

/** Reads RGBA bands of a GeoTIFF that GDAL wrote, interleaved like a decoded PNG. */
async function rgbaOf(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const bytes = readFileSync(path);
  const image = await (await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))).getImage();
  const data = (await image.readRasters({ interleave: true })) as unknown as Uint8Array;
  return { width: image.getWidth(), height: image.getHeight(), data: Uint8Array.from(data) };
}

async function tileRgba(path: string): Promise<Uint8Array> {
  const response = await app.get(path);
  expect(response.status).toBe(200);
  const { data } = await sharp(Buffer.from(await response.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

/** gdal_translate one WorldCRS84Quad tile (row, col at level z) through OGCAPI and the same tile from the route. */
async function compareTile(collectionUrl: string, tilePath: (z: number, row: number, col: number) => string, z: number, row: number, col: number) {
  const cell = crs84Cell(z);
  const west = -180 + col * 256 * cell;
  const north = 90 - row * 256 * cell;
  const out = join(work, `tile-${z}-${row}-${col}-${Math.random().toString(36).slice(2)}.tif`);
  await run(
    'gdal_translate',
    ['-oo', `TILEMATRIX=${z}`, '-projwin', String(west), String(north), String(west + 256 * cell), String(north - 256 * cell), `OGCAPI:${collectionUrl}`, out],
    { timeout: 120_000, env: gdalEnv() },
  );
  const fromGdal = await rgbaOf(out);
  expect([fromGdal.width, fromGdal.height]).toEqual([256, 256]);
  const fromRoute = await tileRgba(tilePath(z, row, col));
  // Opaque somewhere (the tile has data) and byte-identical to the route's PNG.
  expect(fromRoute.some((value, i) => i % 4 === 3 && value === 255)).toBe(true);
  expect(Buffer.from(fromGdal.data).equals(Buffer.from(fromRoute))).toBe(true);
}

/** The WorldCRS84Quad tile containing lon/lat at level z (row from the top, col from the left). */
function crs84Tile(lon: number, lat: number, z: number): [number, number] {
  const span = 256 * crs84Cell(z);
  return [Math.floor((90 - lat) / span), Math.floor((lon + 180) / span)];
}

describe.skipIf(!hasGdal)('GDAL 3.6 OGCAPI driver', () => {
  beforeAll(async () => {
    app = await startTestApp();
    work = mkdtempSync(join(tmpdir(), 'tmogc-gdal36-'));
  });
  afterAll(async () => {
    await app?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('opens a configured collection at its extent, sized by the deepest level', async () => {
    const info = await gdalJson(`OGCAPI:${app.url}/collections/sentinel2-tci`);
    expect(info.driverShortName).toBe('OGCAPI');
    expect(info.bands).toHaveLength(4);
    const { body } = await app.getJson('/collections/sentinel2-tci');
    const [west, south, east, north] = body.extent.spatial.bbox[0];
    // maxzoom 14: 0.703125 / 2^14 degrees per pixel; GDAL snaps the window to whole pixels.
    const cell = crs84Cell(14);
    expect(info.geoTransform[1]).toBeCloseTo(cell, 12);
    expect(Math.abs(info.size[0] - (east - west) / cell)).toBeLessThanOrEqual(2);
    expect(Math.abs(info.size[1] - (north - south) / cell)).toBeLessThanOrEqual(2);
  });

  it('gdal_translate through OGCAPI returns the tile route pixels (configured collection)', async () => {
    const [row, col] = crs84Tile(23.75, 32.05, 12);
    await compareTile(`${app.url}/collections/sentinel2-tci`, (z, r, c) => `/collections/sentinel2-tci/map/tiles/WorldCRS84Quad/${z}/${r}/${c}`, 12, row, col);
  });

  it('the README recipe: gdal_translate -oo TILEMATRIX=12 -projwin ... writes the scene colours', async () => {
    const out = join(work, 'readme.tif');
    await run('gdal_translate', ['-oo', 'TILEMATRIX=12', '-projwin', '23.7', '32.1', '23.8', '32.0', `OGCAPI:${app.url}/collections/sentinel2-tci`, out], { timeout: 120_000, env: gdalEnv() });
    const image = await rgbaOf(out);
    // 0.1 degree at 0.703125/4096 degrees per pixel.
    expect(Math.abs(image.width - 0.1 / crs84Cell(12))).toBeLessThanOrEqual(1);
    const opaque = image.data.filter((value, i) => i % 4 === 3 && value === 255).length;
    expect(opaque).toBe(image.width * image.height);
  });

  it('opens an ad hoc collection over a 224 px chip and reads its pixels', async () => {
    const source = `${app.fixtures.url}/${CHIP}`;
    const query = `S2L2A=${encodeURIComponent(source)}`;
    const url = `${app.url}/collections/S2L2A?${query}`;
    const info = await gdalJson(`OGCAPI:${url}`);
    expect(info.driverShortName).toBe('OGCAPI');
    const { body } = await app.getJson(`/collections/S2L2A?${query}`);
    const [west, south, east, north] = body.extent.spatial.bbox[0];
    // Ad hoc collections go to level 18.
    const cell = crs84Cell(18);
    expect(Math.abs(info.size[0] - (east - west) / cell)).toBeLessThanOrEqual(2);
    const [row, col] = crs84Tile((west + east) / 2, (south + north) / 2, 16);
    await compareTile(url, (z, r, c) => `/collections/S2L2A/map/tiles/WorldCRS84Quad/${z}/${r}/${c}?${query}`, 16, row, col);
  });
});

describe('whole-matrix limits for GDAL <= 3.7, exact limits for everyone else', () => {
  const schemas = ogcSchemas();
  // GDAL 3.6 sends no User-Agent (undici would add one: an empty value is sent as none) and this exact Accept.
  const GDAL36 = { accept: 'application/geo+json, application/json', 'user-agent': '' };
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('GDAL 3.6 headers get whole-matrix limits from the first level where the extent spans a pixel; links keep limits=matrix', async () => {
    const { response, body } = await app.getJson('/collections/parana-s2l2a/map/tiles/WorldCRS84Quad', GDAL36);
    expect(response.headers.get('vary')).toMatch(/User-Agent/);
    expectValid(schemas.tileSet, body, 'legacy tileset');
    expectValid(schemas.tileSet2, body, 'legacy tileset (TMS 2.0 schema)');
    const { body: collection } = await app.getJson('/collections/parana-s2l2a');
    const [west, south, east, north] = collection.extent.spatial.bbox[0];
    const span = Math.min(east - west, north - south);
    // First level whose cell size is at most the extent's narrower side.
    const first = Math.ceil(Math.log2(0.703125 / span));
    expect(body.tileMatrixSetLimits[0]).toEqual({ tileMatrix: String(first), minTileRow: 0, maxTileRow: 2 ** first - 1, minTileCol: 0, maxTileCol: 2 ** (first + 1) - 1 });
    expect(body.tileMatrixSetLimits.at(-1).tileMatrix).toBe('17');
    for (const link of body.links.filter((l: { rel: string }) => l.rel === 'item')) expect(link.href).toContain('limits=matrix');
  });

  it('a plain client gets the exact limits from level 0 and no flag in links', async () => {
    const { body } = await app.getJson('/collections/parana-s2l2a/map/tiles/WorldCRS84Quad', { 'user-agent': 'curl/8.0' });
    expect(body.tileMatrixSetLimits[0]).toEqual({ tileMatrix: '0', minTileRow: 0, maxTileRow: 0, minTileCol: 0, maxTileCol: 0 });
    expect(JSON.stringify(body.links)).not.toContain('limits=matrix');
  });

  it('User-Agent GDAL/3.7 is legacy, GDAL/3.8 and 3.10 are not; the query flag works for anyone', async () => {
    const first = async (headers: Record<string, string>, query = '') =>
      (await app.getJson(`/collections/parana-s2l2a/map/tiles/WebMercatorQuad${query}`, headers)).body.tileMatrixSetLimits[0].tileMatrix;
    expect(await first({ 'user-agent': 'GDAL/3.7.3' })).not.toBe('0');
    expect(await first({ 'user-agent': 'GDAL/3.8.4' })).toBe('0');
    expect(await first({ 'user-agent': 'GDAL/3.10.0' })).toBe('0');
    expect(await first({ 'user-agent': 'Mozilla/5.0' }, '?limits=matrix')).not.toBe('0');
  });

  it('with the flag, a tile inside the matrix but outside the data is a 200 transparent tile, not a 404', async () => {
    const plain = await app.get('/collections/parana-s2l2a/map/tiles/WorldCRS84Quad/12/0/0');
    expect(plain.status).toBe(404);
    const legacy = await app.get('/collections/parana-s2l2a/map/tiles/WorldCRS84Quad/12/0/0?limits=matrix');
    expect(legacy.status).toBe(200);
    expect(legacy.headers.get('content-type')).toBe('image/png');
    const { data, info } = await sharp(Buffer.from(await legacy.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([256, 256]);
    expect(data.every((value) => value === 0)).toBe(true);
  });

  it('a wrong flag value is a 400 that names the accepted value', async () => {
    const { response, body } = await app.getJson('/collections/parana-s2l2a/map/tiles/WorldCRS84Quad?limits=all');
    expect(response.status).toBe(400);
    expect(body.detail).toMatch(/limits must be 'matrix'/);
  });
});
