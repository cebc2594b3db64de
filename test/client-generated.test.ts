import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fromArrayBuffer } from 'geotiff';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TILES_SETTLED, alphaCounts, launchBrowser, screenshot, tileResponses, type Browser } from './helpers/browser.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PYTHON } from './helpers/reference-case.js';

/**
 * Real clients on generated collections (`/collections/{OUTPUT}?{SOURCE}=<url>&seed=...`): the viewer, QGIS and
 * GDAL 3.6. Listed in vitest.config.ts `exclude` until generated collections land (issue 7): the contract used
 * here is the one issue 10 was built against (TileJSON minzoom > 0, the collection says whether weights are random).
 */
const run = promisify(execFile);
/** GDAL's WMS tile cache in the test's scratch folder: never the repository, never stale tiles from an earlier run. */
const gdalEnv = () => ({ ...process.env, GDAL_DEFAULT_WMS_CACHE_PATH: join(work, 'gdalwmscache') });
const QGIS_SCRIPT = fileURLToPath(new URL('./clients/qgis_render.py', import.meta.url));
const CHIP = 'terramind-examples/S2L2A/282D_485L_3_3.tif';

let served: TestApp;
let base: string;
let work: string;
let query: string;

beforeAll(async () => {
  served = await startTestApp({ model: true, warmUp: true });
  base = served.url;
  work = mkdtempSync(join(tmpdir(), 'tmogc-generated-'));
  query = `S2L2A=${encodeURIComponent(`${served.fixtures.url}/${CHIP}`)}&seed=3&timesteps=10`;
});
afterAll(async () => {
  await served?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('generated collections', () => {
  it('TileJSON starts where chips are generated, centred at a zoom inside its range; the collection says the weights are random', async () => {
    const tilejson = (await (await fetch(`${base}/collections/LULC/map/tiles/WebMercatorQuad/tilejson.json?${query}`)).json()) as { minzoom: number; maxzoom: number; center: number[]; tiles: string[] };
    expect(tilejson.minzoom).toBeGreaterThan(0);
    expect(tilejson.center[2]).toBeGreaterThanOrEqual(tilejson.minzoom);
    expect(tilejson.center[2]).toBeLessThanOrEqual(tilejson.maxzoom);
    expect(tilejson.tiles[0]).toContain('seed=3');
    const collection = await (await fetch(`${base}/collections/LULC?${query}`)).text();
    expect(collection).toMatch(/random/i);
  });

  it('the viewer shows the generated layer with the random-weights warning and tile progress', async () => {
    const browser: Browser = await launchBrowser();
    try {
      const viewer = await browser.open(`${base}/viewer?S2L2A=${encodeURIComponent(`${served.fixtures.url}/${CHIP}`)}&output=LULC&seed=3`);
      await viewer.page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
      await viewer.page.waitForFunction(TILES_SETTLED, undefined, { timeout: 240_000 });
      expect(await viewer.page.isVisible('#weights-warning')).toBe(true);
      const generated = tileResponses(viewer.responses).filter((r) => r.url().includes('/collections/LULC/'));
      expect(generated.length).toBeGreaterThan(0);
      let opaque = 0;
      for (const tile of generated) {
        expect(tile.headers()['content-type']).toBe('image/png');
        opaque += (await alphaCounts(await tile.body())).opaque;
      }
      expect(opaque).toBeGreaterThan(0);
      await screenshot(viewer.page, 'viewer-generated.png');
      expect(viewer.errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('QGIS renders the generated layer from its TileJSON', async () => {
    const tilejson = (await (await fetch(`${base}/collections/LULC/map/tiles/WebMercatorQuad/tilejson.json?${query}`)).json()) as { tiles: string[]; bounds: number[] };
    const out = join(work, 'qgis-generated.png');
    const { stdout } = await run(PYTHON, [QGIS_SCRIPT, 'xyz', tilejson.tiles[0], out, ...tilejson.bounds.map(String), '256', '256'], {
      timeout: 300_000,
      env: { ...gdalEnv(), QT_QPA_PLATFORM: 'offscreen', XDG_RUNTIME_DIR: work },
    });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ valid: true, error: '' });
    const { data } = await sharp(out).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let drawn = 0;
    for (let i = 0; i < data.length; i += 3) if (!(data[i] > 240 && data[i + 1] < 15 && data[i + 2] > 240)) drawn += 1;
    expect(drawn / (data.length / 3)).toBeGreaterThan(0.5);
  });

  it('GDAL 3.6 opens the generated collection through OGCAPI and reads the tile route pixels', async () => {
    const url = `${base}/collections/LULC?${query}`;
    const { stdout } = await run('gdalinfo', ['-json', `OGCAPI:${url}`], { timeout: 120_000, env: gdalEnv() });
    expect(JSON.parse(stdout).driverShortName).toBe('OGCAPI');
    const collection = (await (await fetch(url)).json()) as { extent: { spatial: { bbox: number[][] } } };
    const [west, south, east, north] = collection.extent.spatial.bbox[0];
    const z = 16;
    const span = (256 * 0.703125) / 2 ** z;
    const row = Math.floor((90 - (south + north) / 2) / span);
    const col = Math.floor(((west + east) / 2 + 180) / span);
    const out = join(work, 'generated.tif');
    const [tw, tn] = [-180 + col * span, 90 - row * span];
    await run('gdal_translate', ['-oo', `TILEMATRIX=${z}`, '-projwin', String(tw), String(tn), String(tw + span), String(tn - span), `OGCAPI:${url}`, out], { timeout: 300_000, env: gdalEnv() });
    const bytes = readFileSync(out);
    const image = await (await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))).getImage();
    const fromGdal = Buffer.from((await image.readRasters({ interleave: true })) as unknown as Uint8Array);
    const tile = await fetch(`${base}/collections/LULC/map/tiles/WorldCRS84Quad/${z}/${row}/${col}?${query}`);
    expect(tile.status).toBe(200);
    const { data } = await sharp(Buffer.from(await tile.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(fromGdal.equals(data)).toBe(true);
  });
});
