import proj4 from 'proj4';
import sharp from 'sharp';
import { fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCacheStore } from '../src/cache/memory-store.js';
import type { CachedObject } from '../src/cache/store.js';
import { mercatorToLonLat, tileBounds, tileGrid } from '../src/grid/tiles.js';
import { getTileMatrixSet } from '../src/grid/tms.js';
import { encodeImage, renderRaster } from '../src/render/index.js';
import { FIXTURES } from './helpers/fixture-server.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { slippyTile } from './helpers/tiles.js';

/**
 * Tiles end to end over real fixtures: pixels compared with the source GeoTIFF read independently (geotiff +
 * proj4), transparency outside the data, formats and negotiation, ETag/304 and the cache status header.
 */
/** A real memory store that also remembers which keys were written (one write per production). */
class RecordingStore extends MemoryCacheStore {
  readonly puts: string[] = [];
  override async put(key: string, object: CachedObject): Promise<void> {
    this.puts.push(key);
    return super.put(key, object);
  }
}

let app: TestApp;
const store = new RecordingStore(64 * 1024 * 1024);
let tci: { width: number; height: number; origin: number[]; resolution: number[]; rgb: Uint8Array[] };
const UTM34 = '+proj=utm +zone=34 +datum=WGS84 +units=m +no_defs';

beforeAll(async () => {
  app = await startTestApp({ cacheStore: store });
  const tiff = await fromFile(`${FIXTURES}cog/titiler/TCI.tif`);
  const image = await tiff.getImage();
  const bands = (await image.readRasters()) as unknown as Uint8Array[];
  tci = { width: image.getWidth(), height: image.getHeight(), origin: image.getOrigin(), resolution: image.getResolution(), rgb: [bands[0], bands[1], bands[2]] };
});
afterAll(async () => {
  await app?.close();
});

async function decode(body: ArrayBuffer) {
  const { data, info } = await sharp(Buffer.from(body)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Lon/lat of the centre of pixel (px, py) of a tile. */
function pixelLonLat(tmsId: 'WebMercatorQuad' | 'WorldCRS84Quad', z: number, row: number, col: number, px: number, py: number): [number, number] {
  const tms = getTileMatrixSet(tmsId);
  const matrix = tms.definition.tileMatrices[z];
  const [minX, , , maxY] = tileBounds(matrix, row, col);
  const x = minX + (px + 0.5) * matrix.cellSize;
  const y = maxY - (py + 0.5) * matrix.cellSize;
  return tmsId === 'WebMercatorQuad' ? mercatorToLonLat(x, y) : [x, y];
}

/** The TCI.tif colour under a lon/lat (nearest source pixel), or undefined outside the image or at nodata. */
function tciColour(lon: number, lat: number): [number, number, number] | undefined {
  const [x, y] = proj4('EPSG:4326', UTM34, [lon, lat]);
  const col = Math.floor((x - tci.origin[0]) / tci.resolution[0]);
  const row = Math.floor((y - tci.origin[1]) / tci.resolution[1]);
  if (col < 0 || row < 0 || col >= tci.width || row >= tci.height) return undefined;
  const i = row * tci.width + col;
  const rgb: [number, number, number] = [tci.rgb[0][i], tci.rgb[1][i], tci.rgb[2][i]];
  return rgb.every((v) => v === 0) ? undefined : rgb;
}

async function compareWithSource(tmsId: 'WebMercatorQuad' | 'WorldCRS84Quad', z: number, row: number, col: number) {
  const response = await app.get(`/collections/sentinel2-tci/map/tiles/${tmsId}/${z}/${row}/${col}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('image/png');
  const tile = await decode(await response.arrayBuffer());
  expect([tile.width, tile.height]).toEqual([256, 256]);
  const diffs: number[] = [];
  for (let py = 8; py < 256; py += 16) {
    for (let px = 8; px < 256; px += 16) {
      const expected = tciColour(...pixelLonLat(tmsId, z, row, col, px, py));
      if (!expected) continue;
      const o = (py * 256 + px) * 4;
      expect(tile.data[o + 3], `alpha at ${px},${py}`).toBe(255);
      for (let b = 0; b < 3; b += 1) diffs.push(Math.abs(tile.data[o + b] - expected[b]));
    }
  }
  expect(diffs.length).toBeGreaterThan(300);
  diffs.sort((a, b) => a - b);
  // Bilinear resampling of a 100 m source onto a finer grid: the median pixel is within a few levels.
  expect(diffs[Math.floor(diffs.length / 2)]).toBeLessThanOrEqual(6);
  expect(diffs[Math.floor(diffs.length * 0.9)]).toBeLessThanOrEqual(30);
}

describe('map tiles from a COG', () => {
  it('a WebMercatorQuad tile inside the scene matches the source colours', async () => {
    const [row, col] = slippyTile(23.75, 32.05, 12);
    await compareWithSource('WebMercatorQuad', 12, row, col);
  });

  it('a WorldCRS84Quad tile (lon/lat grid) matches the source colours', async () => {
    // level 10: 0.703125/1024*256 = 0.17578125 degrees per tile
    const span = 0.17578125;
    await compareWithSource('WorldCRS84Quad', 10, Math.floor((90 - 32.05) / span), Math.floor((23.75 + 180) / span));
  });

  it('a tile inside the limits but outside the data is a 200 transparent PNG', async () => {
    const tileset = await app.getJson('/collections/sentinel2-tci/map/tiles/WebMercatorQuad');
    const limits = tileset.body.tileMatrixSetLimits.find((l: { tileMatrix: string }) => l.tileMatrix === '14');
    const response = await app.get(`/collections/sentinel2-tci/map/tiles/WebMercatorQuad/14/${limits.minTileRow}/${limits.minTileCol}`);
    expect(response.status).toBe(200);
    const tile = await decode(await response.arrayBuffer());
    expect(tile.data.filter((_, i) => i % 4 === 3 && tile.data[i] !== 0)).toHaveLength(0);
  });

  it('a reprojected DEM (Swiss LV95 source) gives an opaque tile over the data', async () => {
    const collection = await app.getJson('/collections/swiss-dem');
    const [west, south, east, north] = collection.body.extent.spatial.bbox[0];
    const [row, col] = slippyTile((west + east) / 2, (south + north) / 2, 16);
    const response = await app.get(`/collections/swiss-dem/map/tiles/WebMercatorQuad/16/${row}/${col}`);
    expect(response.status).toBe(200);
    const tile = await decode(await response.arrayBuffer());
    const opaque = tile.data.filter((_, i) => i % 4 === 3 && tile.data[i] === 255).length;
    expect(opaque).toBeGreaterThan(256 * 256 * 0.5);
  });
});

describe('ad hoc collections', () => {
  it('an S2RGB tile from a STAC item matches the tile of the same GeoTIFF configured as a file', async () => {
    const item = `${app.fixtures.url}/stac-local/earth-search-s2l2a.json`;
    const query = `?S2RGB=${encodeURIComponent(item)}`;
    const tileset = await app.getJson(`/collections/S2RGB/map/tiles/WebMercatorQuad${query}`);
    expect(tileset.response.status).toBe(200);
    const limits = tileset.body.tileMatrixSetLimits.find((l: { tileMatrix: string }) => l.tileMatrix === '16');
    const row = Math.round((limits.minTileRow + limits.maxTileRow) / 2);
    const col = Math.round((limits.minTileCol + limits.maxTileCol) / 2);
    const adHoc = await app.get(`/collections/S2RGB/map/tiles/WebMercatorQuad/16/${row}/${col}${query}`);
    const configured = await app.get(`/collections/tanzania-s2rgb/map/tiles/WebMercatorQuad/16/${row}/${col}`);
    expect(adHoc.status).toBe(200);
    expect(configured.status).toBe(200);
    const a = await decode(await adHoc.arrayBuffer());
    const b = await decode(await configured.arrayBuffer());
    const opaque = a.data.filter((_, i) => i % 4 === 3 && a.data[i] === 255).length;
    expect(opaque).toBeGreaterThan(256 * 256 * 0.9);
    // Same pixels; only the chip's edge pixels may differ (the item path masks its footprint on its own).
    const same = a.data.filter((value, i) => value === b.data[i]).length;
    expect(same / a.data.length).toBeGreaterThan(0.99);
  });

  it('two ad hoc sources of one modality give two tiles under two cache keys, each its own source\'s pixels', async () => {
    // Two single-band GeoTIFFs on the same 224x224 grid: the DEM chip and the NDVI chip (any one band serves as DEM).
    const dem = `${app.fixtures.url}/terramind-examples/DEM/38D_378R_2_3.tif`;
    const ndvi = `${app.fixtures.url}/terramind-examples/NDVI/38D_378R_2_3.tif`;
    const [row, col] = slippyTile(34.066, -3.4013, 16);
    const tilePath = (source: string) => `/collections/DEM/map/tiles/WebMercatorQuad/16/${row}/${col}?DEM=${encodeURIComponent(source)}`;
    const putsBefore = store.puts.length;
    const first = await app.get(tilePath(dem));
    const second = await app.get(tilePath(ndvi));
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.headers.get('x-cache'), second.headers.get('x-cache')]).toEqual(['miss', 'miss']);
    expect(second.headers.get('etag')).not.toBe(first.headers.get('etag'));
    const keys = store.puts.slice(putsBefore);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
    // Each tile is exactly what its own source renders to, read and rendered here without the cache.
    const tms = getTileMatrixSet('WebMercatorQuad');
    const grid = tileGrid(tms, tms.definition.tileMatrices[16], row, col);
    for (const [source, response] of [[dem, first], [ndvi, second]] as const) {
      const raster = await (await app.ctx.sources.open(source, 'DEM')).read(grid);
      const expected = await encodeImage(renderRaster(raster, 'DEM', {}), 'png');
      expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(expected)), source).toBe(true);
    }
    // And the first source still gets its own tile back, now from the cache.
    const again = await app.get(tilePath(dem));
    expect(again.headers.get('x-cache')).toBe('hit');
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
  });

  it('render parameters change the bytes and are part of the cache key', async () => {
    const [row, col] = slippyTile(23.75, 32.05, 11);
    const path = `/collections/sentinel2-tci/map/tiles/WebMercatorQuad/11/${row}/${col}`;
    const plain = await app.get(path);
    const stretched = await app.get(`${path}?rescale=0,128`);
    expect(stretched.status).toBe(200);
    expect(stretched.headers.get('x-cache')).toBe('miss');
    expect(stretched.headers.get('etag')).not.toBe(plain.headers.get('etag'));
    const a = await decode(await plain.arrayBuffer());
    const b = await decode(await stretched.arrayBuffer());
    const mean = (data: Uint8Array) => data.reduce((sum, v, i) => (i % 4 === 3 ? sum : sum + v), 0) / data.length;
    expect(mean(b.data)).toBeGreaterThan(mean(a.data));
  });
});

describe('tile responses', () => {
  const [row, col] = slippyTile(23.6, 31.9, 13);
  const path = `/collections/sentinel2-tci/map/tiles/WebMercatorQuad/13/${row}/${col}`;

  it('miss then hit, with a strong ETag, Cache-Control and 304 on If-None-Match', async () => {
    const first = await app.get(path);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('miss');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=3600');
    const second = await app.get(path);
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.headers.get('etag')).toBe(etag);
    expect(Buffer.from(await second.arrayBuffer()).equals(Buffer.from(await first.arrayBuffer()))).toBe(true);
    const notModified = await app.get(path, { 'if-none-match': `"other", ${etag}` });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(await notModified.text()).toBe('');
  });

  it.each([
    ['f=webp', '?f=webp', {}, 'image/webp', [0x52, 0x49, 0x46, 0x46]],
    ['f=jpeg', '?f=jpeg', {}, 'image/jpeg', [0xff, 0xd8, 0xff]],
    ['f=jpg', '?f=jpg', {}, 'image/jpeg', [0xff, 0xd8, 0xff]],
    ['Accept: image/webp', '', { accept: 'image/webp' }, 'image/webp', [0x52, 0x49, 0x46, 0x46]],
    ['browser image Accept', '', { accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8' }, 'image/png', [0x89, 0x50, 0x4e, 0x47]],
    ['no Accept', '', {}, 'image/png', [0x89, 0x50, 0x4e, 0x47]],
    ['Accept: application/json (never 406)', '', { accept: 'application/json' }, 'image/png', [0x89, 0x50, 0x4e, 0x47]],
    ["Java's default Accept (never 406)", '', { accept: 'text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2' }, 'image/jpeg', [0xff, 0xd8, 0xff]],
    ['f wins over Accept', '?f=png', { accept: 'image/jpeg' }, 'image/png', [0x89, 0x50, 0x4e, 0x47]],
  ])('%s -> %s', async (_name, query, headers, type, magic) => {
    const response = await app.get(`${path}${query}`, headers as Record<string, string>);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(type);
    expect(response.headers.get('vary')).toMatch(/Accept/);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect([...bytes.subarray(0, magic.length)]).toEqual(magic);
    const image = await sharp(Buffer.from(bytes)).metadata();
    expect([image.width, image.height]).toEqual([256, 256]);
  });

  it('concurrent requests for one new tile are produced once', async () => {
    const [r, c] = slippyTile(23.9, 32.2, 13);
    const renders = async () => (await app.ctx.metrics.renderSeconds.get()).values.find((v) => v.metricName === 'tmogc_tile_render_seconds_count' && v.labels.modality === 'S2RGB')?.value ?? 0;
    const rendersBefore = await renders();
    const putsBefore = store.puts.length;
    const responses = await Promise.all(Array.from({ length: 8 }, () => app.get(`/collections/sentinel2-tci/map/tiles/WebMercatorQuad/13/${r}/${c}`)));
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
    // Those that came while it was produced waited on the one production (single-flight) and report its miss; on
    // a loaded machine a late one finds it stored (hit). Either way it was rendered and stored once (below).
    const statuses = responses.map((response) => response.headers.get('x-cache'));
    expect(statuses).toContain('miss');
    for (const status of statuses) expect(['miss', 'hit']).toContain(status);
    expect(new Set(responses.map((response) => response.headers.get('etag'))).size).toBe(1);
    expect((await renders()) - rendersBefore).toBe(1);
    expect(store.puts.length - putsBefore).toBe(1);
  });
});
