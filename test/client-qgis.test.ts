import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { ARTIFACTS } from './helpers/browser.js';
import { PYTHON } from './helpers/reference-case.js';
import { tciColour } from './helpers/tci.js';

/**
 * QGIS 3.22 (Debian 12's qgis + python3-qgis), headless (QT_QPA_PLATFORM=offscreen), as its users add this
 * service: an XYZ layer from a collection's TileJSON, and an OGC API layer through GDAL (`OGCAPI:` URI, the
 * GDAL 3.6 path). Each is rendered to a PNG over a magenta background and checked for content: no background
 * left inside the data, the source's colour at the centre, and real texture. Renders are kept in test-artifacts/.
 */
const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./clients/qgis_render.py', import.meta.url));
const hasQgis = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import qgis.core'], { stdio: 'pipe', env: { ...process.env, QT_QPA_PLATFORM: 'offscreen' } });
    return true;
  } catch {
    return false;
  }
})();

// A window over the sea and coast of the TCI scene (dark water, clouds, shore), in lon/lat.
const SEA = { lon: 23.95, lat: 32.35, half: 0.03 };

let app: TestApp;
let work: string;

interface Rendered {
  data: Buffer;
  width: number;
  height: number;
}

async function render(kind: 'xyz' | 'gdal', uri: string, name: string, box: [number, number, number, number]): Promise<Rendered> {
  const out = join(work, name);
  const { stdout } = await run(PYTHON, [SCRIPT, kind, uri, out, ...box.map(String), '256', '256'], {
    timeout: 120_000,
    // GDAL's WMS tile cache (used by the OGCAPI driver inside QGIS) stays in the scratch folder.
    env: { ...process.env, QT_QPA_PLATFORM: 'offscreen', XDG_RUNTIME_DIR: work, GDAL_DEFAULT_WMS_CACHE_PATH: join(work, 'gdalwmscache') },
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(result, stdout).toMatchObject({ valid: true, error: '' });
  mkdirSync(ARTIFACTS, { recursive: true });
  await sharp(out).toFile(join(ARTIFACTS, name));
  const { data, info } = await sharp(out).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const isBackground = (data: Buffer, i: number) => data[i] > 240 && data[i + 1] < 15 && data[i + 2] > 240;

function expectContent(image: Rendered, centreExpected: number[]) {
  let background = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < image.data.length; i += 3) {
    if (isBackground(image.data, i)) background += 1;
    const grey = (image.data[i] + image.data[i + 1] + image.data[i + 2]) / 3;
    sum += grey;
    sumSquares += grey * grey;
  }
  const pixels = image.width * image.height;
  // Inside the data: every pixel drawn.
  expect(background / pixels).toBeLessThan(0.01);
  // Texture, not a flat fill (the window holds water, clouds and shore).
  const mean = sum / pixels;
  expect(Math.sqrt(sumSquares / pixels - mean * mean)).toBeGreaterThan(8);
  const centre = ((image.height / 2) * image.width + image.width / 2) * 3;
  const actual = [image.data[centre], image.data[centre + 1], image.data[centre + 2]];
  for (let b = 0; b < 3; b += 1) expect(Math.abs(actual[b] - centreExpected[b]), `band ${b + 1}: ${actual} vs ${centreExpected}`).toBeLessThanOrEqual(30);
}

describe.skipIf(!hasQgis)('QGIS 3.22 headless', () => {
  beforeAll(async () => {
    app = await startTestApp();
    work = mkdtempSync(join(tmpdir(), 'tmogc-qgis-'));
  });
  afterAll(async () => {
    await app?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const box = (): [number, number, number, number] => [SEA.lon - SEA.half, SEA.lat - SEA.half, SEA.lon + SEA.half, SEA.lat + SEA.half];

  it('an XYZ layer from the TileJSON tiles template renders the scene', async () => {
    const tilejson = await app.getJson('/collections/sentinel2-tci/map/tiles/WebMercatorQuad/tilejson.json');
    const image = await render('xyz', tilejson.body.tiles[0], 'qgis-xyz.png', box());
    // The map is in EPSG:3857: its centre is the Mercator midpoint of the window, whose latitude is this.
    const y = (Math.log(Math.tan(Math.PI / 4 + ((SEA.lat - SEA.half) * Math.PI) / 360)) + Math.log(Math.tan(Math.PI / 4 + ((SEA.lat + SEA.half) * Math.PI) / 360))) / 2;
    const centreLat = (2 * Math.atan(Math.exp(y)) - Math.PI / 2) * (180 / Math.PI);
    expectContent(image, await tciColour(SEA.lon, centreLat));
  });

  it('an OGC API layer through GDAL (OGCAPI: URI) renders the same place', async () => {
    const image = await render('gdal', `OGCAPI:${app.url}/collections/sentinel2-tci`, 'qgis-ogcapi.png', box());
    expectContent(image, await tciColour(SEA.lon, SEA.lat));
  });
});
