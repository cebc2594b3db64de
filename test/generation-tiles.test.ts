import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromArrayBuffer } from 'geotiff';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODALITIES, type Modality } from '../src/modalities.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { buildMosaicInputs } from './helpers/mosaic.js';
import { slippyTile } from './helpers/tiles.js';


/** Generation on 2 shared cores: a tile of a 12-band output takes seconds, more under load. */
const GENERATION_TIMEOUT = 300_000;
/**
 * Generated modalities as map and coverage tiles, end to end: the service over the committed random-weights
 * package, generating from real inputs (the TerraMind example chip and a 640 px mosaic of real chips, see
 * test/helpers/mosaic.ts) served over loopback HTTP. Two diffusion steps keep the CPU cost down; nothing here
 * depends on the step count.
 */
let app: TestApp;
let inputs: FixtureServer;
let dir: string;
const manifest = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(new URL('../models/terramind-test-random/manifest.json', import.meta.url), 'utf8')));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tmogc-mosaic-'));
  await buildMosaicInputs(dir);
  inputs = await startFixtureServer(dir);
  app = await startTestApp({ model: true, allowHosts: [new URL(inputs.url).host] });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await inputs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const chip = () => `${app.fixtures.url}/terramind-examples/S2L2A/38D_378R_2_3.tif`;
const mosaic = (name: string) => `${inputs.url}/${name}`;
/** Centre of the example chip (and of the mosaic's top-left block). */
const CHIP_CENTRE: [number, number] = [34.066031, -3.401355];
/** Centre of the 640 px mosaic. */
const MOSAIC_CENTRE: [number, number] = [34.08476, -3.42017];

function query(sources: Record<string, string>, params: Record<string, string | number> = {}): string {
  const pairs = [...Object.entries(sources), ...Object.entries({ timesteps: 2, ...params })];
  return pairs.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
}

async function coverage(path: string) {
  const response = await app.get(path);
  expect(response.status, await response.clone().text().then((t) => t.slice(0, 300))).toBe(200);
  expect(response.headers.get('content-type')).toBe('image/tiff; application=geotiff');
  const tiff = await fromArrayBuffer(await response.arrayBuffer());
  const image = await tiff.getImage();
  const bands = (await image.readRasters()) as unknown as Float32Array[];
  return { image, bands, width: image.getWidth(), height: image.getHeight() };
}

async function png(path: string) {
  const response = await app.get(path);
  expect(response.status, await response.clone().text().then((t) => t.slice(0, 300))).toBe(200);
  expect(response.headers.get('content-type')).toBe('image/png');
  const { data, info } = await sharp(Buffer.from(await response.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, response };
}

describe('generated modalities as tiles', { timeout: GENERATION_TIMEOUT }, () => {
  const generable = ['S2L2A', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI'] as const;

  it.each(generable)('%s from an example chip: a map tile and a coverage tile within the model clamp', async (output: Modality) => {
    const [row, col] = slippyTile(...CHIP_CENTRE, 16);
    // A modality named among the sources is that source itself: S2L2A is generated from the chip's S1RTC.
    const source: Record<string, string> = output === 'S2L2A' ? { S1RTC: `${app.fixtures.url}/terramind-examples/S1RTC/38D_378R_2_3.tif` } : { S2L2A: chip() };
    const q = query(source, { seed: 1 });
    const map = await png(`/collections/${output}/map/tiles/WebMercatorQuad/16/${row}/${col}?${q}`);
    expect([map.width, map.height]).toEqual([256, 256]);
    let opaque = 0;
    for (let i = 3; i < map.data.length; i += 4) if (map.data[i] === 255) opaque += 1;
    // The tile sits inside the chip: (almost) every pixel is generated.
    expect(opaque).toBeGreaterThan(256 * 256 * 0.9);

    const cov = await coverage(`/collections/${output}/coverage/tiles/WebMercatorQuad/16/${row}/${col}?${q}`);
    expect(cov.bands).toHaveLength(MODALITIES[output].bands.length);
    expect(cov.image.getGDALNoData()).toBeNaN();
    // Georeferenced as the tile: EPSG:3857, top-left corner and cell size of WebMercatorQuad level 16.
    expect(cov.image.getGeoKeys()?.ProjectedCSTypeGeoKey).toBe(3857);
    const cell = (2 * 20037508.342789244) / 2 ** 16 / 256;
    expect(cov.image.getResolution()[0]).toBeCloseTo(cell, 6);
    expect(cov.image.getOrigin()[0]).toBeCloseTo(-20037508.342789244 + col * 256 * cell, 3);
    expect(cov.image.getOrigin()[1]).toBeCloseTo(20037508.342789244 - row * 256 * cell, 3);
    const m = manifest.modalities[output];
    cov.bands.forEach((band, c) => {
      let valid = 0;
      for (const v of band) {
        if (Number.isNaN(v)) continue;
        valid += 1;
        if (output === 'LULC') {
          expect(Number.isInteger(v) && v >= 0 && v <= 9).toBe(true);
        } else {
          // DiVAE outputs are clamped to mean +/- 1 std (terramind-reference.md §4.4); blends stay inside.
          expect(v).toBeGreaterThanOrEqual(m.mean[c] - m.std[c] - 1e-3 * m.std[c]);
          expect(v).toBeLessThanOrEqual(m.mean[c] + m.std[c] + 1e-3 * m.std[c]);
        }
      }
      expect(valid).toBeGreaterThan(256 * 256 * 0.9);
    });
  });

  it('is seamless: adjacent coverage tiles differ across their shared edge as neighbouring columns inside do', async () => {
    const [row, col] = slippyTile(...MOSAIC_CENTRE, 16);
    const q = query({ S2L2A: mosaic('S2L2A.tif') }, { seed: 2 });
    const left = await coverage(`/collections/DEM/coverage/tiles/WebMercatorQuad/16/${row}/${col}?${q}`);
    const right = await coverage(`/collections/DEM/coverage/tiles/WebMercatorQuad/16/${row}/${col + 1}?${q}`);
    const a = left.bands[0]!;
    const b = right.bands[0]!;
    const step = (f: (y: number) => number) => {
      let sum = 0;
      for (let y = 0; y < 256; y += 1) sum += f(y);
      return sum / 256;
    };
    const across = step((y) => Math.abs(a[y * 256 + 255]! - b[y * 256]!));
    const inside = [50, 128, 200, 254].map((x) => step((y) => Math.abs(a[y * 256 + x]! - a[y * 256 + x + 1]!)));
    const typical = inside.reduce((s, v) => s + v, 0) / inside.length;
    expect(Number.isFinite(across) && Number.isFinite(typical)).toBe(true);
    expect(across).toBeLessThan(2 * typical);
  });

  it('is the same at every zoom: a zoom-15 coverage tile equals its four zoom-16 children averaged', async () => {
    const [row, col] = slippyTile(...MOSAIC_CENTRE, 15);
    const q = query({ S2L2A: mosaic('S2L2A.tif') }, { seed: 2 });
    const parent = (await coverage(`/collections/DEM/coverage/tiles/WebMercatorQuad/15/${row}/${col}?${q}`)).bands[0]!;
    const children = await Promise.all(
      [0, 1].flatMap((dy) => [0, 1].map((dx) => coverage(`/collections/DEM/coverage/tiles/WebMercatorQuad/16/${2 * row + dy}/${2 * col + dx}?${q}`))),
    );
    const diffs: number[] = [];
    let lo = Infinity;
    let hi = -Infinity;
    for (let y = 0; y < 256; y += 1) {
      for (let x = 0; x < 256; x += 1) {
        const child = children[Math.floor(y / 128) * 2 + Math.floor(x / 128)]!.bands[0]!;
        const cx = (x % 128) * 2;
        const cy = (y % 128) * 2;
        const mean = (child[cy * 256 + cx]! + child[cy * 256 + cx + 1]! + child[(cy + 1) * 256 + cx]! + child[(cy + 1) * 256 + cx + 1]!) / 4;
        const p = parent[y * 256 + x]!;
        if (Number.isNaN(p) || Number.isNaN(mean)) continue;
        diffs.push(Math.abs(p - mean));
        lo = Math.min(lo, p);
        hi = Math.max(hi, p);
      }
    }
    expect(diffs.length).toBeGreaterThan(60_000);
    diffs.sort((x, y) => x - y);
    // Same field, sampled at the parent's pixel centres vs averaged over the children's: within 2% of the range
    // for the median pixel and 10% for the 99th percentile (the random-weight DEM is rough at 10 m).
    expect(diffs[Math.floor(diffs.length / 2)]!).toBeLessThan(0.02 * (hi - lo));
    expect(diffs[Math.floor(diffs.length * 0.99)]!).toBeLessThan(0.1 * (hi - lo));
  });

  it('reads other sources in their own grids onto the chips (S1RTC in EPSG:4326, DEM at 30 m)', async () => {
    const [row, col] = slippyTile(...MOSAIC_CENTRE, 16);
    const both = query({ S2L2A: mosaic('S2L2A.tif'), S1RTC: mosaic('S1RTC-4326.tif'), DEM: mosaic('DEM-30m.tif') }, { seed: 2 });
    const alone = query({ S2L2A: mosaic('S2L2A.tif') }, { seed: 2 });
    const withAll = await coverage(`/collections/LULC/coverage/tiles/WebMercatorQuad/16/${row}/${col}?${both}`);
    const fromS2 = await coverage(`/collections/LULC/coverage/tiles/WebMercatorQuad/16/${row}/${col}?${alone}`);
    let valid = 0;
    let differ = 0;
    withAll.bands[0]!.forEach((v, i) => {
      if (Number.isNaN(v)) return;
      valid += 1;
      if (v !== fromS2.bands[0]![i]) differ += 1;
    });
    expect(valid).toBeGreaterThan(256 * 256 * 0.9);
    // More inputs condition the model differently: the class map changes.
    expect(differ).toBeGreaterThan(0);
    const document = await app.getJson(`/collections/LULC?${both}`);
    expect(document.response.status).toBe(200);
    expect(document.body.generatedBy.sources.map((s: { modality: string }) => s.modality)).toEqual(['S1RTC', 'DEM', 'S2L2A'].sort((x, y) => ['S2L2A', 'S2L1C', 'S2RGB', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI'].indexOf(x) - ['S2L2A', 'S2L1C', 'S2RGB', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI'].indexOf(y)));
  });

  it('masks what lies outside the inputs: transparent map pixels and NaN coverage pixels', async () => {
    // Zoom 15 tile holding the example chip's north-west corner: part inside, part outside.
    const [row, col] = slippyTile(34.0560, -3.3913, 15);
    const q = query({ S2L2A: chip() }, { seed: 1 });
    const map = await png(`/collections/DEM/map/tiles/WebMercatorQuad/15/${row}/${col}?${q}`);
    const cov = await coverage(`/collections/DEM/coverage/tiles/WebMercatorQuad/15/${row}/${col}?${q}`);
    let transparent = 0;
    let nan = 0;
    let agree = 0;
    for (let i = 0; i < 256 * 256; i += 1) {
      const isNan = Number.isNaN(cov.bands[0]![i]!);
      const isClear = map.data[i * 4 + 3] === 0;
      if (isClear) transparent += 1;
      if (isNan) nan += 1;
      if (isNan === isClear) agree += 1;
    }
    expect(transparent).toBeGreaterThan(1000);
    expect(transparent).toBeLessThan(256 * 256 - 1000);
    expect(agree).toBe(256 * 256);
    expect(nan).toBe(transparent);
  });
});

describe('generated collection documents', { timeout: GENERATION_TIMEOUT }, () => {
  it('say how they are made, that the weights are random, and start their tilesets where generation is cheap enough', async () => {
    const q = query({ S2L2A: chip() }, { seed: 7, thinking: 'LULC' });
    const { body } = await app.getJson(`/collections/DEM?${q}`);
    expect(body.title).toMatch(/RANDOM WEIGHTS/);
    expect(body.generatedBy).toMatchObject({
      model: 'terramind-v1-test-random',
      weights: 'random',
      parameters: { seed: 7, timesteps: 2, temperature: 1, top_p: 0.8, top_k: 0, thinking: ['LULC'] },
    });
    expect(body.links.map((l: { rel: string }) => l.rel)).toContain('http://www.opengis.net/def/rel/ogc/1.0/tilesets-coverage');
    const own = body.links.filter((l: { href: string }) => l.href.includes('/collections/DEM'));
    expect(own.length).toBeGreaterThanOrEqual(4);
    for (const link of own) expect(link.href).toContain('seed=7');
    const tileset = await app.getJson(`/collections/DEM/map/tiles/WebMercatorQuad?${q}`);
    // At the example chip (lat -3.4) a zoom-12 tile spans 9.76 km = 976 px: up to 7 x 7 chips; zoom 13: 4 x 4 = 16.
    expect(tileset.body.tileMatrixSetLimits[0].tileMatrix).toBe('13');
    for (const link of tileset.body.links.filter((l: { href: string }) => l.href.includes('/collections/DEM'))) expect(link.href).toContain('thinking=LULC');
    const tilejson = await app.getJson(`/collections/DEM/map/tiles/WebMercatorQuad/tilejson.json?${q}`);
    expect(tilejson.body.minzoom).toBe(13);
    expect(tilejson.body.tiles[0]).toContain('timesteps=2');
    const coverageSet = await app.getJson(`/collections/DEM/coverage/tiles/WebMercatorQuad?${q}`);
    expect(coverageSet.body.dataType).toBe('coverage');
    expect(coverageSet.body.links.filter((l: { rel: string }) => l.rel === 'item').map((l: { type: string }) => l.type)).toEqual([
      'image/tiff; application=geotiff',
    ]);
  });

  it('configured generated collections (COLLECTIONS_FILE) are listed, warn of random weights and serve tiles', async () => {
    const { body } = await app.getJson('/collections');
    const generated = body.collections.filter((c: { generatedBy?: unknown }) => c.generatedBy);
    expect(generated.map((c: { id: string }) => c.id)).toEqual(['tanzania-lulc-generated', 'tanzania-dem-generated']);
    for (const collection of generated) expect(collection.title).toMatch(/RANDOM WEIGHTS/);
    const landing = await (await app.get('/?f=html')).text();
    expect(landing).toMatch(/Tanzania farmland: LULC generated by TerraMind from the S2L2A chip \(RANDOM WEIGHTS/);
    expect(generated[1].generatedBy.parameters.thinking).toEqual(['LULC']);
    const [row, col] = slippyTile(...CHIP_CENTRE, 16);
    const map = await png(`/collections/tanzania-lulc-generated/map/tiles/WebMercatorQuad/16/${row}/${col}`);
    // Class 0 ("No data" in the TerraMind palette) is drawn transparent; random weights predict it now and then.
    expect(map.data.filter((_, i) => i % 4 === 3 && map.data[i] === 255).length).toBeGreaterThan(40_000);
  });

  it('renders a generated DEM with one stretch for every tile (the model bounds), so map tiles meet without seams', async () => {
    const q = query({ S2L2A: chip() }, { seed: 1 });
    const { body } = await app.getJson(`/collections/DEM/map/tiles/WebMercatorQuad?${q}`);
    const m = manifest.modalities.DEM;
    // mean 435.6 +/- std 951.2 m (the clamp): -281 .. 1387, in every tile link and cache key.
    expect(body.links.find((l: { rel: string }) => l.rel === 'item').href).not.toContain('rescale');
    const [row, col] = slippyTile(...CHIP_CENTRE, 16);
    const coverageTile = await coverage(`/collections/DEM/coverage/tiles/WebMercatorQuad/16/${row}/${col}?${q}`);
    const mapTile = await png(`/collections/DEM/map/tiles/WebMercatorQuad/16/${row}/${col}?${q}`);
    const low = Math.floor(m.mean[0] - m.std[0]);
    const high = Math.ceil(m.mean[0] + m.std[0]);
    const explicit = await png(`/collections/DEM/map/tiles/WebMercatorQuad/16/${row}/${col}?${q}&rescale=${low},${high}`);
    expect(Buffer.from(explicit.data).equals(Buffer.from(mapTile.data))).toBe(true);
    expect(coverageTile.bands[0]!.some((v) => !Number.isNaN(v))).toBe(true);
  });

  it('refuses a configured generated collection with a bad parameter when the service starts', async () => {
    const { CollectionRegistry } = await import('../src/collections/registry.js');
    const bad = {
      id: 'bad-generated',
      title: 'bad',
      description: '',
      modality: 'DEM' as const,
      source: 'generate:x',
      trusted: true,
      render: {},
      minzoom: 0,
      maxzoom: 18,
      generate: { sources: [{ modality: 'S2L2A' as const, href: chip() }], params: { seed: 1, timesteps: 0 } },
    };
    expect(() => new CollectionRegistry([bad], app.ctx.sources, { engine: app.ctx.engine! })).toThrow(
      /generation parameters of collection bad-generated: timesteps: Too small/,
    );
  });

  it('documents coverage tiles and the generation parameters in OpenAPI, from the schema that validates them', async () => {
    const { body } = await app.getJson('/api');
    const op = body.paths['/collections/{collectionId}/coverage/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}'].get;
    expect(op.operationId).toBe('collection.coverage.getTile');
    expect(Object.keys(op.responses['200'].content)).toEqual(['image/tiff; application=geotiff']);
    const params = body.components.parameters;
    expect(params['generation-seed'].schema).toMatchObject({ type: 'integer', minimum: 0, default: 0 });
    expect(params['generation-timesteps'].schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 10 });
    expect(params['generation-top_p'].schema).toMatchObject({ minimum: 0, exclusiveMinimum: true, maximum: 1, default: 0.8 }); // OpenAPI 3.0 form
    expect(op.parameters).toContainEqual({ $ref: '#/components/parameters/generation-thinking' });
  });

  it('serves coverage tiles of plain (not generated) collections too', async () => {
    const [row, col] = slippyTile(...CHIP_CENTRE, 15);
    const cov = await coverage(`/collections/tanzania-dem/coverage/tiles/WebMercatorQuad/15/${row}/${col}`);
    const values = [...cov.bands[0]!].filter((v) => !Number.isNaN(v));
    expect(values.length).toBeGreaterThan(10_000);
    // The example DEM chip holds 1187..1223 m.
    expect(Math.min(...values)).toBeGreaterThan(1180);
    expect(Math.max(...values)).toBeLessThan(1230);
  });
});

describe('bad generation requests', { timeout: GENERATION_TIMEOUT }, () => {
  const tile = () => {
    const [row, col] = slippyTile(...CHIP_CENTRE, 15);
    return `15/${row}/${col}`;
  };

  async function exception(path: string, status: number): Promise<string> {
    const { response, body } = await app.getJson(path);
    expect(response.status, JSON.stringify(body)).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(body.status).toBe(status);
    return body.detail as string;
  }

  it('names what is possible for a modality the model cannot generate or take', async () => {
    expect(await exception(`/collections/S2L1C/map/tiles/WebMercatorQuad/${tile()}?${query({ S2L2A: chip() })}`, 400)).toMatch(
      /cannot generate S2L1C\. It can generate: S2L2A, S1GRD, S1RTC, DEM, LULC, NDVI/,
    );
    expect(await exception(`/collections/XYZ/map/tiles/WebMercatorQuad/${tile()}?${query({ S2L2A: chip() })}`, 404)).toMatch(/Unknown collection 'XYZ'/);
  });

  it.each([
    ['seed', '-1', /seed: Too small/i],
    ['seed', 'abc', /seed: .*number/i],
    ['timesteps', '0', /timesteps: Too small/i],
    ['timesteps', '1001', /timesteps: Too big/i],
    ['top_p', '1.5', /top_p: Too big/i],
    ['temperature', '-2', /temperature: Too small/i],
    ['top_k', '2.5', /top_k: .*integer/i],
    ['thinking', 'DEM', /thinking\.0: .*LULC/],
  ])('refuses %s=%s with a 400 naming the parameter', async (name, value, pattern) => {
    const detail = await exception(`/collections/DEM/map/tiles/WebMercatorQuad/${tile()}?${query({ S2L2A: chip() }, { [name]: value })}`, 400);
    expect(detail).toMatch(pattern);
    expect(detail).toMatch(/Parameters: seed \(integer >= 0, default 0\)/);
  });

  it('refuses sources that do not overlap, and a zoom too low to generate, saying which zoom to use', async () => {
    const apart = query({ S2L2A: chip(), S1RTC: `${app.fixtures.url}/terramind-examples/S1RTC/282D_485L_3_3.tif` });
    expect(await exception(`/collections/DEM/map/tiles/WebMercatorQuad/${tile()}?${apart}`, 400)).toMatch(/do not overlap/);
    const [row, col] = slippyTile(...CHIP_CENTRE, 12);
    expect(await exception(`/collections/DEM/map/tiles/WebMercatorQuad/12/${row}/${col}?${query({ S2L2A: chip() })}`, 404)).toMatch(
      /start at tile matrix 13 of WebMercatorQuad: a tile of level 12 would need up to 49 chips.*Ask for level 13/,
    );
  });
});
