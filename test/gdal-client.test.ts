import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromArrayBuffer } from 'geotiff';
import { tciColour } from './helpers/tci.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers/fixture-server.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * GDAL as a real client (Debian's gdal-bin; CI installs it): the OGC API driver from a collection URL, and the
 * XYZ template through GDAL's WMS/TMS mini-driver. Pixels read by GDAL are compared with TCI.tif itself.
 * Skipped only when gdalinfo is not installed.
 */
const run = promisify(execFile);
/** [major, minor] of the installed GDAL, or undefined when gdalinfo is absent. */
const gdalVersion = (() => {
  try {
    const match = /GDAL (\d+)\.(\d+)/.exec(execFileSync('gdalinfo', ['--version'], { stdio: 'pipe' }).toString());
    return match ? [Number(match[1]), Number(match[2])] : [0, 0];
  } catch {
    return undefined;
  }
})();
const hasGdal = gdalVersion !== undefined;
// GDAL < 3.8 places OGC API tiles wrongly when tileMatrixSetLimits do not cover the whole matrix (strip height
// and column offset), and without limits it fails to open at random: its pixel path is tested from 3.8 on.
const gdalReadsOgcApiTiles = gdalVersion !== undefined && (gdalVersion[0] > 3 || (gdalVersion[0] === 3 && gdalVersion[1] >= 8));

let app: TestApp;
let work: string;
// A window inside the TCI scene (Sentinel-2 34SGA), in lon/lat.
const WINDOW = { west: 23.7, north: 32.1, east: 23.8, south: 32.0 };

/** Band values at the centre pixel of a GeoTIFF that GDAL wrote. */
async function centrePixel(path: string): Promise<number[]> {
  const bytes = readFileSync(path);
  const tiff = await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const image = await tiff.getImage();
  const col = Math.floor(image.getWidth() / 2);
  const row = Math.floor(image.getHeight() / 2);
  const bands = (await image.readRasters({ window: [col, row, col + 1, row + 1] })) as unknown as Uint8Array[];
  return Array.from(bands, (band) => band[0]);
}

function expectColourNear(actual: number[], expected: number[], tolerance: number) {
  for (let b = 0; b < 3; b += 1) expect(Math.abs(actual[b] - expected[b]), `band ${b + 1}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance);
}

describe.skipIf(!hasGdal)('GDAL as a client', () => {
  beforeAll(async () => {
    app = await startTestApp();
    work = mkdtempSync(join(tmpdir(), 'tmogc-gdal-'));
  });
  afterAll(async () => {
    await app?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('gdalinfo OGCAPI:<collection> opens it through OGC API - Tiles with the collection extent', async () => {
    const { stdout } = await run('gdalinfo', ['-json', `OGCAPI:${app.url}/collections/sentinel2-tci`], { timeout: 60_000 });
    const info = JSON.parse(stdout);
    expect(info.driverShortName).toBe('OGCAPI');
    // PNG tiles: GDAL reads RGBA.
    expect(info.bands).toHaveLength(4);
    const [west, north] = info.cornerCoordinates.upperLeft;
    const [east, south] = info.cornerCoordinates.lowerRight;
    expect(west).toBeCloseTo(23.106, 2);
    expect(east).toBeCloseTo(24.296, 2);
    expect(north).toBeCloseTo(32.519, 2);
    expect(south).toBeCloseTo(31.505, 2);
  });

  it.skipIf(!gdalReadsOgcApiTiles)('gdal_translate through the OGCAPI driver reads the source colours (GDAL >= 3.8)', async () => {
    const out = join(work, 'ogcapi.tif');
    await run(
      'gdal_translate',
      [
        '-projwin', String(WINDOW.west), String(WINDOW.north), String(WINDOW.east), String(WINDOW.south),
        '-of', 'GTiff',
        `OGCAPI:${app.url}/collections/sentinel2-tci`,
        out,
      ],
      { timeout: 120_000 },
    );
    const pixel = await centrePixel(out);
    expect(pixel[3]).toBe(255);
    expectColourNear(pixel, await tciColour((WINDOW.west + WINDOW.east) / 2, (WINDOW.north + WINDOW.south) / 2), 20);
  });

  it('the XYZ template through GDAL WMS/TMS reads the same colours', async () => {
    const tilejson = await app.getJson('/collections/sentinel2-tci/map/tiles/WebMercatorQuad/tilejson.json');
    const template: string = tilejson.body.tiles[0];
    const serverUrl = template.replace('{z}', '${z}').replace('{x}', '${x}').replace('{y}', '${y}').replaceAll('&', '&amp;');
    const xml = join(work, 'xyz.xml');
    writeFileSync(
      xml,
      `<GDAL_WMS>
  <Service name="TMS"><ServerUrl>${serverUrl}</ServerUrl></Service>
  <DataWindow>
    <UpperLeftX>-20037508.34</UpperLeftX><UpperLeftY>20037508.34</UpperLeftY>
    <LowerRightX>20037508.34</LowerRightX><LowerRightY>-20037508.34</LowerRightY>
    <TileLevel>13</TileLevel><TileCountX>1</TileCountX><TileCountY>1</TileCountY><YOrigin>top</YOrigin>
  </DataWindow>
  <Projection>EPSG:3857</Projection>
  <BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY><BandsCount>4</BandsCount>
  <ZeroBlockHttpCodes>204,404</ZeroBlockHttpCodes>
</GDAL_WMS>`,
    );
    const out = join(work, 'xyz.tif');
    await run(
      'gdal_translate',
      ['-projwin_srs', 'EPSG:4326', '-projwin', String(WINDOW.west), String(WINDOW.north), String(WINDOW.east), String(WINDOW.south), '-of', 'GTiff', xml, out],
      { timeout: 120_000 },
    );
    const pixel = await centrePixel(out);
    expect(pixel[3]).toBe(255);
    expectColourNear(pixel, await tciColour((WINDOW.west + WINDOW.east) / 2, (WINDOW.north + WINDOW.south) / 2), 20);
  });
});
