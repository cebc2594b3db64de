import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromFile } from 'geotiff';
import proj4 from 'proj4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OgcError } from '../src/errors.js';
import { MODALITIES, type Modality } from '../src/modalities.js';
import { createGuardedFetch } from '../src/net/guarded-fetch.js';
import type { Grid } from '../src/raster/raster.js';
import { createLogger } from '../src/logger.js';
import { createRaster } from '../src/raster/raster.js';
import { encodeGeoTiff } from '../src/render/geotiff.js';
import { createSourceOpener } from '../src/sources/open.js';
import { FIXTURES, startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';

const fetch = createGuardedFetch({ allowHosts: ['127.0.0.1'], timeoutMs: 10_000, maxBytes: 64 * 1024 * 1024, allowFileUrls: false });
const CHIP = '282D_485L_3_3';

/** The chip's own pixel grid and its bands, read directly with geotiff.js (the oracle). */
const direct = new Map<string, Promise<{ grid: Grid; bands: ArrayLike<number>[] }>>();
function readDirect(path: string): Promise<{ grid: Grid; bands: ArrayLike<number>[] }> {
  if (!direct.has(path)) direct.set(path, decodeDirect(path));
  return direct.get(path)!;
}

async function decodeDirect(path: string): Promise<{ grid: Grid; bands: ArrayLike<number>[] }> {
  const image = await (await fromFile(join(FIXTURES, path))).getImage(0);
  const [x, y] = image.getOrigin();
  const [rx, ry] = image.getResolution();
  const code = image.getGeoKeys()?.ProjectedCSTypeGeoKey as number;
  const bands = (await image.readRasters({ interleave: false })) as unknown as ArrayLike<number>[];
  return { grid: { crs: `EPSG:${code}`, width: image.getWidth(), height: image.getHeight(), transform: [rx, 0, x, 0, ry, y] }, bands };
}

let server: FixtureServer;
beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(() => server.close());

describe('plain GeoTIFFs (TerraMind example chips, striped, not COGs)', () => {
  it.each([
    ['DEM', 'DEM'],
    ['S1RTC', 'S1RTC'],
    ['LULC', 'LULC'],
    ['NDVI', 'NDVI'],
    ['S2L2A', 'S2L2A'],
    ['S2RGB', 'S2RGB'],
  ] as [string, Modality][])('%s chip read onto its own grid gives the stored values exactly', async (folder, modality) => {
    const opener = createSourceOpener({ fetch });
    const path = `terramind-examples/${folder}/${CHIP}.tif`;
    const reader = await opener.open(`${server.url}/${path}`, modality);
    const { grid, bands } = await readDirect(path);
    expect(reader.modality).toBe(modality);
    expect(reader.id).toBe(`${CHIP}.tif`);
    expect(reader.crs).toBe('EPSG:32722');
    expect(reader.resolution).toBe(10);
    // Chip centre is -25.316, -48.106.
    expect((reader.bounds[0] + reader.bounds[2]) / 2).toBeCloseTo(-48.106, 2);
    expect((reader.bounds[1] + reader.bounds[3]) / 2).toBeCloseTo(-25.316, 2);
    const raster = await reader.read(grid);
    expect(raster.bandNames).toEqual([...MODALITIES[modality].bands]);
    expect(raster.bands).toHaveLength(bands.length);
    expect(raster.mask.every((m) => m === 255)).toBe(true);
    bands.forEach((band, k) => {
      let mismatches = 0;
      for (let i = 0; i < band.length; i++) if (raster.bands[k][i] !== Math.fround(band[i])) mismatches++;
      expect(mismatches).toBe(0);
    });
  });

  it('refuses a band-count mismatch with a 400 naming expected and found counts', async () => {
    const opener = createSourceOpener({ fetch });
    const error = (await opener.open(`${server.url}/terramind-examples/S1RTC/${CHIP}.tif`, 'DEM').catch((e) => e)) as OgcError;
    expect(error).toBeInstanceOf(OgcError);
    expect(error.status).toBe(400);
    expect(error.detail).toMatch(/has 2 band\(s\) but modality DEM needs 1/);
    const rgb = (await opener.open(`${server.url}/terramind-examples/S2L2A/${CHIP}.tif`, 'S2RGB').catch((e) => e)) as OgcError;
    expect(rgb.detail).toMatch(/has 12 band\(s\) but modality S2RGB needs 3/);
  });

  it('takes a 3-band 8-bit TCI as S2RGB (red, green, blue) with its nodata', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}/cog/titiler/TCI.tif`, 'S2RGB');
    // Columns 350-413 cross the edge of the scene's nodata wedge (0,0,0) on the first rows.
    const grid: Grid = { crs: 'EPSG:32634', width: 64, height: 64, transform: [100, 0, 699960 + 350 * 100, 0, -100, 3600000] };
    const raster = await reader.read(grid);
    const { bands } = await readDirect('cog/titiler/TCI.tif');
    let checked = 0;
    let wrongMask = 0;
    let wrongValue = 0;
    for (let row = 0; row < 64; row++) {
      for (let col = 0; col < 64; col++) {
        const i = row * 64 + col;
        const j = row * 1098 + 350 + col;
        const nodata = bands[0][j] === 0 && bands[1][j] === 0 && bands[2][j] === 0;
        // GDAL_NODATA applies per band; a zero in any band is no data for the pixel.
        const anyZero = bands[0][j] === 0 || bands[1][j] === 0 || bands[2][j] === 0;
        if (raster.mask[i] !== (anyZero ? 0 : 255)) wrongMask++;
        if (!nodata && !anyZero) {
          if ([0, 1, 2].some((k) => raster.bands[k][i] !== bands[k][j])) wrongValue++;
          checked++;
        }
      }
    }
    expect(wrongMask).toBe(0);
    expect(wrongValue).toBe(0);
    expect(checked).toBeGreaterThan(500);
    expect(checked).toBeLessThan(64 * 64);
  });

  it('reads file:// only when trusted', async () => {
    const opener = createSourceOpener({ fetch });
    const href = pathToFileURL(join(FIXTURES, `terramind-examples/DEM/${CHIP}.tif`)).href;
    await expect(opener.open(href, 'DEM')).rejects.toMatchObject({ status: 400 });
    const reader = await opener.open(href, 'DEM', { trusted: true });
    const { grid, bands } = await readDirect(`terramind-examples/DEM/${CHIP}.tif`);
    const raster = await reader.read(grid);
    expect(raster.bands[0][1234]).toBe(bands[0][1234]);
    expect(opener.stats().requests).toBeGreaterThan(0);
  });
});

describe('opener caching and statistics', () => {
  it('reuses an opened reader, deduplicates concurrent opens, and counts requests and bytes', async () => {
    const opener = createSourceOpener({ fetch });
    const href = `${server.url}/cog/titiler/dem.tif`;
    const start = server.requests.length;
    const [a, b] = await Promise.all([opener.open(href, 'DEM'), opener.open(href, 'DEM')]);
    expect(a).toBe(b);
    const opened = server.requests.length - start;
    expect(opened).toBe(1); // one 16 KiB block holds the header and every IFD
    expect(await opener.open(href, 'DEM')).toBe(a);
    expect(server.requests.length - start).toBe(opened);
    const stats = opener.stats();
    expect(stats.requests).toBe(1);
    expect(stats.bytes).toBe(server.requests.slice(start).reduce((sum, r) => sum + r.bytes, 0));
    expect(stats.openedReaders).toBe(1);
    expect(stats.cachedBytes).toBeGreaterThan(0);
  });

  it('lets an aborted caller go without breaking the shared open', async () => {
    const opener = createSourceOpener({ fetch });
    const href = `${server.url}/cog/titiler/B09.tif`;
    const controller = new AbortController();
    const pending = opener.open(href, 'DEM', { signal: controller.signal });
    controller.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow(/client went away/);
    const reader = await opener.open(href, 'DEM');
    expect(reader.crs).toBe('EPSG:32634');
  });
});

describe('STAC items', () => {
  let dir: string;
  let stac: FixtureServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sources-stac-'));
    copyFileSync(join(FIXTURES, 'cog/titiler/B01.tif'), join(dir, 'B01.tif'));
    copyFileSync(join(FIXTURES, 'cog/titiler/TCI.tif'), join(dir, 'TCI.tif'));
    // A Planetary-Computer-style S1 RTC item (float linear power -> dB) whose two assets are real COGs at
    // different resolutions: vv at 600 m (relative href), vh at 100 m (absolute href on the same server).
    const item = {
      type: 'Feature',
      stac_version: '1.0.0',
      id: 'mixed-resolution-s1',
      collection: 'sentinel-1-rtc',
      properties: { datetime: '2020-03-18T09:11:33Z' },
      geometry: null,
      bbox: [23.1, 31.5, 24.3, 32.52],
      links: [],
      assets: {
        vv: { href: 'B01.tif', type: 'image/tiff; application=geotiff; profile=cloud-optimized', roles: ['data'], 'raster:bands': [{ data_type: 'float32' }] },
        vh: { href: '{{BASE}}/TCI.tif', type: 'image/tiff; application=geotiff; profile=cloud-optimized', roles: ['data'], 'raster:bands': [{ data_type: 'float32' }] },
      },
    };
    writeFileSync(join(dir, 'item.json'), JSON.stringify(item));
    writeFileSync(join(dir, 'not-an-item.json'), JSON.stringify({ hello: 'world' }));
    writeFileSync(join(dir, 'broken.json'), '{"type": "Feature", ');
    stac = await startFixtureServer(dir);
  });
  afterAll(async () => {
    await stac.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads each band at its own resolution onto one grid and applies linear-to-dB', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${stac.url}/item.json`, 'S1RTC');
    expect(reader.id).toBe('mixed-resolution-s1');
    expect(reader.bounds).toEqual([23.1, 31.5, 24.3, 32.52]);
    expect(reader.resolution).toBe(100); // the finest band
    // 100 m grid aligned with TCI, 600 m B01 pixels are 6x6 blocks of it. Away from the nodata wedge.
    const x0 = 699960 + 600 * 100;
    const y0 = 3600000 - 600 * 100;
    const grid: Grid = { crs: 'EPSG:32634', width: 60, height: 60, transform: [100, 0, x0, 0, -100, y0] };
    const raster = await reader.read(grid, { resampling: 'nearest' });
    const { bands: b01 } = await readDirect('cog/titiler/B01.tif');
    const { bands: tci } = await readDirect('cog/titiler/TCI.tif');
    let checked = 0;
    let wrongMask = 0;
    let worst = 0;
    for (let row = 0; row < 60; row++) {
      for (let col = 0; col < 60; col++) {
        const i = row * 60 + col;
        const vv = b01[0][Math.floor((600 + row) / 6) * 183 + Math.floor((600 + col) / 6)];
        const vh = tci[0][(600 + row) * 1098 + 600 + col];
        if (vv === 0 || vh === 0) {
          if (raster.mask[i] !== 0) wrongMask++;
          continue;
        }
        if (raster.mask[i] !== 255) wrongMask++;
        worst = Math.max(worst, Math.abs(raster.bands[0][i] - 10 * Math.log10(vv)), Math.abs(raster.bands[1][i] - 10 * Math.log10(vh)));
        checked++;
      }
    }
    expect(wrongMask).toBe(0);
    expect(worst).toBeLessThan(1e-4);
    expect(checked).toBeGreaterThan(3000);
  });

  it('turns items that do not resolve into OgcErrors', async () => {
    const opener = createSourceOpener({ fetch });
    const missingBands = (await opener.open(`${stac.url}/item.json`, 'S2L2A').catch((e) => e)) as OgcError;
    expect(missingBands).toBeInstanceOf(OgcError);
    expect(missingBands.status).toBe(400);
    expect(missingBands.detail).toMatch(/^Item "mixed-resolution-s1" lacks bands B01 \(B1\/coastal\), .*, B12 \(swir22\) needed for S2L2A; assets found: vv, vh$/);
    // The user named a JSON document that is not an item: their input is wrong (400), not the upstream (502).
    const notItem = (await opener.open(`${stac.url}/not-an-item.json`, 'DEM').catch((e) => e)) as OgcError;
    expect(notItem).toBeInstanceOf(OgcError);
    expect(notItem.status).toBe(400);
    expect(notItem.detail).toMatch(/^Not a usable STAC Item: type: type must be "Feature" \(a STAC Item\); id: /);
    const broken = (await opener.open(`${stac.url}/broken.json`, 'DEM').catch((e) => e)) as OgcError;
    expect(broken.status).toBe(502);
    expect(broken.detail).toMatch(/does not parse/);
  });
});

describe('scale and offset through the reader (model = stored * scale + offset)', () => {
  const CHIP38 = '38D_378R_2_3';
  let dir: string;
  let items: FixtureServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sources-scale-'));
    const stac11 = JSON.parse(readFileSync(join(FIXTURES, 'stac-local/stac11-s2l2a-chip.json'), 'utf8'));
    // Reflectance r = DN * 5e-5 - 0.05; TerraMind's DN = r * 10000 + 1000 = DN * 0.5 + 500 (docs/inputs.md).
    for (const band of stac11.assets.reflectance.bands) {
      band['raster:scale'] = 0.00005;
      band['raster:offset'] = -0.05;
      delete band.nodata;
    }
    stac11.assets.reflectance.href = `${server.url}/terramind-examples/S2L2A/${CHIP38}.tif`;
    writeFileSync(join(dir, 's2-half-scale.json'), JSON.stringify(stac11));
    // A DEM stored in half metres below a datum 100 m down, with one stored value declared as no data.
    const dem = {
      type: 'Feature',
      stac_version: '1.1.0',
      id: 'dem-half-metres',
      bbox: [34.0559389, -3.411475, 34.0761233, -3.3912357],
      geometry: null,
      properties: { datetime: '2020-07-14T07:57:21Z', 'proj:code': 'EPSG:32736' },
      links: [],
      assets: {
        data: {
          href: `${server.url}/terramind-examples/DEM/${CHIP38}.tif`,
          type: 'image/tiff; application=geotiff',
          roles: ['data'],
          bands: [{ name: 'elevation', data_type: 'int16', nodata: 1214, 'raster:scale': 0.5, 'raster:offset': -100 }],
        },
      },
    };
    writeFileSync(join(dir, 'dem-half-metres.json'), JSON.stringify(dem));
    items = await startFixtureServer(dir);
  });
  afterAll(async () => {
    await items.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('DEM: every pixel is stored * 0.5 - 100, and the declared no-data value (compared as stored) is masked to 0', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${items.url}/dem-half-metres.json`, 'DEM');
    const { grid, bands } = await readDirect(`terramind-examples/DEM/${CHIP38}.tif`);
    const raster = await reader.read(grid);
    const stored = bands[0]!;
    let masked = 0;
    let wrong = 0;
    for (let i = 0; i < stored.length; i++) {
      if (stored[i] === 1214) {
        masked++;
        if (raster.mask[i] !== 0 || raster.bands[0]![i] !== 0) wrong++;
      } else if (raster.mask[i] !== 255 || raster.bands[0]![i] !== stored[i]! * 0.5 - 100) wrong++;
    }
    expect(masked).toBe(1807); // how often 1214 occurs in the chip
    expect(wrong).toBe(0);
    // Two pixels by hand: the first stored value 1214 is no data; stored 1192 (the chip minimum) is 496 m.
    expect(raster.bands[0]![0]).toBe(0);
    const lowest = Array.prototype.indexOf.call(stored, 1192);
    expect(raster.bands[0]![lowest]).toBe(496);
  });

  it('S2L2A: every band of a multi-band asset is stored * 0.5 + 500 in its own position', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${items.url}/s2-half-scale.json`, 'S2L2A');
    const { grid, bands } = await readDirect(`terramind-examples/S2L2A/${CHIP38}.tif`);
    const raster = await reader.read(grid);
    expect(raster.bandNames).toEqual([...MODALITIES.S2L2A.bands]);
    expect(raster.mask.every((m) => m === 255)).toBe(true);
    bands.forEach((band, k) => {
      let wrong = 0;
      for (let i = 0; i < band.length; i++) if (raster.bands[k]![i] !== band[i]! * 0.5 + 500) wrong++;
      expect(wrong, `band ${MODALITIES.S2L2A.bands[k]}`).toBe(0);
    });
    // One value by hand: B04 (red) at pixel 0.
    expect(raster.bands[3]![0]).toBe(bands[3]![0]! / 2 + 500);
  });
});

describe('reader behaviour on shifted grids, class rasters, footprints and band counts', () => {
  const CHIP38 = '38D_378R_2_3';
  const UTM36S = '+proj=utm +zone=36 +south +datum=WGS84 +units=m +no_defs';
  let dir: string;
  let items: FixtureServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sources-reader-'));
    // An S1 item that names a third band in a two-band file.
    const s1 = {
      type: 'Feature',
      stac_version: '1.1.0',
      id: 's1-three-bands',
      bbox: [34.0559389, -3.411475, 34.0761233, -3.3912357],
      geometry: null,
      properties: { datetime: '2020-07-14T07:57:21Z' },
      links: [],
      assets: {
        data: {
          href: `${server.url}/terramind-examples/S1RTC/${CHIP38}.tif`,
          type: 'image/tiff; application=geotiff',
          roles: ['data'],
          bands: [{ name: 'vv', unit: 'dB' }, { name: 'angle', unit: 'dB' }, { name: 'vh', unit: 'dB' }],
        },
      },
    };
    writeFileSync(join(dir, 's1-three-bands.json'), JSON.stringify(s1));
    items = await startFixtureServer(dir);
  });
  afterAll(async () => {
    await items.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The chip's grid moved a quarter pixel east and south: target centres fall at 0.75 of a source pixel. */
  async function shiftedGrid(path: string) {
    const { grid, bands } = await readDirect(path);
    const [a, , c, , e, f] = grid.transform;
    return { grid: { ...grid, transform: [a, 0, c + a / 4, 0, e, f + e / 4] as Grid['transform'] }, bands, width: grid.width };
  }

  it('a plain GeoTIFF\'s footprint is its corners in CRS84', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}/terramind-examples/DEM/${CHIP38}.tif`, 'DEM');
    const { grid } = await readDirect(`terramind-examples/DEM/${CHIP38}.tif`);
    const [a, , c, , e, f] = grid.transform;
    const corners = [[c, f], [c + a * grid.width, f], [c, f + e * grid.height], [c + a * grid.width, f + e * grid.height]].map((xy) => proj4(UTM36S, 'EPSG:4326', xy));
    const expected = [Math.min(...corners.map((p) => p[0]!)), Math.min(...corners.map((p) => p[1]!)), Math.max(...corners.map((p) => p[0]!)), Math.max(...corners.map((p) => p[1]!))];
    reader.bounds.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThan(1e-7));
  });

  it('interpolates bilinearly by default, takes the nearest pixel on request', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}/terramind-examples/DEM/${CHIP38}.tif`, 'DEM');
    const { grid, bands, width } = await shiftedGrid(`terramind-examples/DEM/${CHIP38}.tif`);
    const stored = bands[0]!;
    const at = (row: number, col: number) => stored[row * width + col]!;
    const bilinear = await reader.read(grid);
    const nearest = await reader.read(grid, { resampling: 'nearest' });
    let worst = 0;
    let wrongNearest = 0;
    for (let row = 0; row < width - 1; row++) {
      for (let col = 0; col < width - 1; col++) {
        const i = row * width + col;
        // weights 0.75 / 0.25 along each axis
        const expected = 0.75 * (0.75 * at(row, col) + 0.25 * at(row, col + 1)) + 0.25 * (0.75 * at(row + 1, col) + 0.25 * at(row + 1, col + 1));
        worst = Math.max(worst, Math.abs(bilinear.bands[0]![i]! - expected));
        if (nearest.bands[0]![i] !== at(row, col)) wrongNearest++;
      }
    }
    expect(worst).toBeLessThan(1e-3);
    expect(wrongNearest).toBe(0);
    // A quarter pixel off, every target centre still falls on the chip.
    expect(bilinear.mask.every((m) => m === 255)).toBe(true);
  });

  it('never interpolates class rasters, whatever resampling is asked for (TerraMind LULC and ESRI codes)', async () => {
    const opener = createSourceOpener({ fetch });
    const { grid, bands, width } = await shiftedGrid(`terramind-examples/LULC/${CHIP38}.tif`);
    for (const href of [`${server.url}/terramind-examples/LULC/${CHIP38}.tif`, `${server.url}/stac-local/planetary-computer-io-lulc.json`]) {
      const raster = await (await opener.open(href, 'LULC')).read(grid, { resampling: 'bilinear' });
      let wrong = 0;
      for (let row = 0; row < width - 1; row++) {
        for (let col = 0; col < width - 1; col++) {
          const i = row * width + col;
          const expected = bands[0]![row * width + col]!;
          if (raster.bands[0]![i] !== expected || raster.mask[i] !== (expected === 0 ? 0 : 255)) wrong++;
        }
      }
      expect(wrong, href).toBe(0);
    }
  });

  it('a band index past the file\'s band count is a 502 naming the file, the count and the band', async () => {
    const opener = createSourceOpener({ fetch });
    const error = (await opener.open(`${items.url}/s1-three-bands.json`, 'S1RTC').catch((e) => e)) as OgcError;
    expect(error).toBeInstanceOf(OgcError);
    expect(error.status).toBe(502);
    expect(error.detail).toBe(`${server.url}/terramind-examples/S1RTC/${CHIP38}.tif has 2 band(s) but band 3 (vh) was requested`);
  });
});

describe('opening: schemes, formats, failures and caching', () => {
  let dir: string;
  let files: FixtureServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sources-open-'));
    writeFileSync(join(dir, 'empty.tif'), '');
    writeFileSync(join(dir, 'three-bytes.tif'), 'II*');
    writeFileSync(join(dir, 'text.tif'), 'hello, this is not an image');
    const chipItem = JSON.parse(readFileSync(join(FIXTURES, 'stac-local/terramind-chips.json'), 'utf8')).features.find((f: { id: string }) => f.id.endsWith('-DEM'));
    chipItem.assets.data.href = `${server.url}/terramind-examples/DEM/38D_378R_2_3.tif`;
    writeFileSync(join(dir, 'padded.json'), `  \n\t${JSON.stringify(chipItem)}`);
    writeFileSync(join(dir, 'array.json'), JSON.stringify([chipItem]));
    files = await startFixtureServer(dir);
  });
  afterAll(async () => {
    await files.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const refusal = async (promise: Promise<unknown>) => (await promise.catch((e: unknown) => e)) as OgcError;

  it('refuses what is not an absolute http(s) URL, and unknown modalities, with 400s', async () => {
    const opener = createSourceOpener({ fetch });
    for (const [href, detail] of [
      ['not a url', '"not a url" is not an absolute URL'],
      ['ftp://example.com/a.tif', 'Unsupported URL scheme ftp: in ftp://example.com/a.tif: use http(s)'],
      ['file:///etc/hostname', 'file:// URLs are not accepted here (file:///etc/hostname); use an http(s) URL'],
    ]) {
      const error = await refusal(opener.open(href!, 'DEM'));
      expect([error.status, error.detail], href).toEqual([400, detail]);
    }
    const unknown = await refusal(opener.open(`${server.url}/terramind-examples/DEM/38D_378R_2_3.tif`, 'FOO' as Modality));
    expect([unknown.status, unknown.detail]).toEqual([400, 'Unknown modality "FOO"']);
  });

  it('tells empty files, short files and other bytes apart from GeoTIFFs (502s naming the file)', async () => {
    const opener = createSourceOpener({ fetch });
    // An empty file over HTTP is a 416 to the first range read; read locally, it is empty.
    const emptyHttp = await refusal(opener.open(`${files.url}/empty.tif`, 'DEM'));
    expect([emptyHttp.status, emptyHttp.detail]).toEqual([502, `${files.url}/empty.tif answered HTTP 416 Range Not Satisfiable`]);
    const emptyFile = pathToFileURL(join(dir, 'empty.tif')).href;
    const emptyLocal = await refusal(opener.open(emptyFile, 'DEM', { trusted: true }));
    expect([emptyLocal.status, emptyLocal.detail]).toEqual([502, `${emptyFile} is empty: not a GeoTIFF or STAC item`]);
    for (const [name, detail] of [
      ['three-bytes.tif', 'is neither a GeoTIFF nor a STAC item JSON (not a GeoTIFF: wrong magic bytes)'],
      ['text.tif', 'is neither a GeoTIFF nor a STAC item JSON (not a GeoTIFF: wrong magic bytes)'],
    ]) {
      const error = await refusal(opener.open(`${files.url}/${name}`, 'DEM'));
      expect([error.status, error.detail], name).toEqual([502, `${files.url}/${name} ${detail}`]);
    }
  });

  it('reads big-endian (MM) TIFFs, and STAC JSON after leading whitespace or as a one-item array', async () => {
    const opener = createSourceOpener({ fetch });
    const { bands } = await readDirect(`stac-local/chips/38D_378R_2_3/B04.tif`);
    const mm = await opener.open(`${server.url}/stac-local/chips/38D_378R_2_3/B04.tif`, 'DEM');
    const { grid } = await readDirect('terramind-examples/DEM/38D_378R_2_3.tif');
    expect((await mm.read(grid)).bands[0]![777]).toBe(bands[0]![777]);
    for (const name of ['padded.json', 'array.json']) {
      const reader = await opener.open(`${files.url}/${name}`, 'DEM');
      expect(reader.id, name).toBe('terramind-38D_378R_2_3-DEM');
    }
  });

  it('keys opened readers by trust, modality and href, and forgets failures', async () => {
    const opener = createSourceOpener({ fetch });
    const href = `${server.url}/terramind-examples/DEM/38D_378R_2_3.tif`;
    const dem = await opener.open(href, 'DEM');
    const ndvi = await opener.open(href, 'NDVI');
    expect(ndvi).not.toBe(dem);
    expect([dem.modality, ndvi.modality]).toEqual(['DEM', 'NDVI']);
    expect(await opener.open(href, 'DEM')).toBe(dem);
    // A trusted open of a file:// href does not let an untrusted caller through afterwards.
    const file = pathToFileURL(join(FIXTURES, 'terramind-examples/DEM/38D_378R_2_3.tif')).href;
    await opener.open(file, 'DEM', { trusted: true });
    expect((await refusal(opener.open(file, 'DEM'))).status).toBe(400);
    // A file that was missing opens once it is there.
    const late = `${files.url}/late.tif`;
    expect((await refusal(opener.open(late, 'DEM'))).status).toBe(502);
    copyFileSync(join(FIXTURES, 'terramind-examples/DEM/38D_378R_2_3.tif'), join(dir, 'late.tif'));
    expect((await opener.open(late, 'DEM')).modality).toBe('DEM');
  });

  it('keeps no reader whose header exceeds the header budget, and counts decoded internal tiles unless that cache is off', async () => {
    const href = `${server.url}/cog/titiler/TCI.tif`;
    const grid: Grid = { crs: 'EPSG:32634', width: 64, height: 64, transform: [100, 0, 699960 + 300 * 100, 0, -100, 3600000 - 300 * 100] };
    const roomy = createSourceOpener({ fetch });
    const kept = await roomy.open(href, 'S2RGB');
    expect(await roomy.open(href, 'S2RGB')).toBe(kept);
    expect(roomy.stats().openedReaders).toBe(1);
    const small = createSourceOpener({ fetch, headerCacheBytes: 1 });
    const first = await small.open(href, 'S2RGB');
    await small.open(`${server.url}/cog/titiler/B09.tif`, 'DEM');
    expect(small.stats().openedReaders).toBe(0);
    expect(await small.open(href, 'S2RGB')).not.toBe(first);
    const reader = await small.open(href, 'S2RGB');
    await reader.read(grid);
    const afterFirst = small.stats();
    expect(afterFirst.decodedMisses).toBeGreaterThan(0);
    await reader.read(grid);
    const afterSecond = small.stats();
    expect(afterSecond.decodedHits).toBeGreaterThanOrEqual(afterFirst.decodedMisses);
    expect(afterSecond.decodedMisses).toBe(afterFirst.decodedMisses);
    const uncached = createSourceOpener({ fetch, decodedCacheBytes: 0 });
    const plain = await uncached.open(href, 'S2RGB');
    await plain.read(grid);
    await plain.read(grid);
    expect([uncached.stats().decodedHits, uncached.stats().decodedMisses]).toEqual([0, 0]);
  });
});

describe('mixed files, partial conversions and masks through the reader', () => {
  const CHIP38 = '38D_378R_2_3';
  const DEM38 = `terramind-examples/DEM/${CHIP38}.tif`;
  let dir: string;
  let items: FixtureServer;
  const s1Asset = (href: string, band: Record<string, unknown>) => ({ href, type: 'image/tiff; application=geotiff', roles: ['data'], bands: [band] });
  const s1Item = (id: string, vv: object, vh: object) => ({
    type: 'Feature',
    stac_version: '1.1.0',
    id,
    bbox: [23.1, 31.5, 24.3, 32.52],
    geometry: null,
    properties: { datetime: '2020-03-18T09:11:33Z' },
    links: [],
    assets: { vv, vh },
  });
  const demItem = (id: string, band: Record<string, unknown>) => ({
    type: 'Feature',
    stac_version: '1.1.0',
    id,
    bbox: [34.0559389, -3.411475, 34.0761233, -3.3912357],
    geometry: null,
    properties: { datetime: '2020-07-14T07:57:21Z', 'proj:code': 'EPSG:32736' },
    links: [],
    assets: { data: { href: `${server.url}/${DEM38}`, type: 'image/tiff; application=geotiff', roles: ['data'], bands: [{ name: 'elevation', data_type: 'int16', ...band }] } },
  });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sources-mixed-'));
    const cog = (name: string) => `${server.url}/cog/titiler/${name}.tif`;
    // The finest file first (TCI, 100 m), then the coarse one (B01, 600 m); the existing item.json has the other order.
    writeFileSync(join(dir, 'fine-first.json'), JSON.stringify(s1Item('fine-first', s1Asset(cog('TCI'), { name: 'vv', unit: 'dB' }), s1Asset(cog('B01'), { name: 'vh', unit: 'dB' }))));
    writeFileSync(join(dir, 'coarse-first.json'), JSON.stringify(s1Item('coarse-first', s1Asset(cog('B01'), { name: 'vv', unit: 'dB' }), s1Asset(cog('TCI'), { name: 'vh', unit: 'dB' }))));
    // Two files (the fixture server ignores the query), only the first declaring a no-data value.
    const dem = `${server.url}/${DEM38}`;
    writeFileSync(join(dir, 'one-file-masked.json'), JSON.stringify(s1Item('one-file-masked', s1Asset(dem, { name: 'vv', unit: 'dB', nodata: 1214 }), s1Asset(`${dem}?second`, { name: 'vh', unit: 'dB' }))));
    writeFileSync(join(dir, 'dem-scale-only.json'), JSON.stringify(demItem('dem-scale-only', { 'raster:scale': 0.5 })));
    writeFileSync(join(dir, 'dem-offset-only.json'), JSON.stringify(demItem('dem-offset-only', { 'raster:offset': -100 })));
    items = await startFixtureServer(dir);
  });
  afterAll(async () => {
    await items.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes a mixed-resolution item by its finest file, whichever asset comes first', async () => {
    const opener = createSourceOpener({ fetch });
    for (const name of ['fine-first', 'coarse-first']) {
      const reader = await opener.open(`${items.url}/${name}.json`, 'S1RTC');
      expect([reader.crs, reader.resolution, reader.origin], name).toEqual(['EPSG:32634', 100, [699960, 3600000]]);
    }
  });

  it('georeferences each file by its own asset proj:transform, and describes an item of equal resolutions by its first file', async () => {
    // A GCP-only file (no geotransform) twice, placed by the item 4 pixels apart: vh's file starts 40 m east of vv's.
    const gcps = `${server.url}/cog/rio-tiler/cog_gcps.tif`;
    const placed = (href: string, x: number, name: string) => ({
      ...s1Asset(href, { name, unit: 'dB' }),
      'proj:code': 'EPSG:32634',
      'proj:transform': [10, 0, x, 0, -10, 3600000],
      'proj:shape': [837, 1280],
    });
    writeFileSync(join(dir, 'placed.json'), JSON.stringify(s1Item('placed', placed(gcps, 700000, 'vv'), placed(`${gcps}?second`, 700040, 'vh'))));
    const reader = await createSourceOpener({ fetch }).open(`${items.url}/placed.json`, 'S1RTC');
    expect([reader.crs, reader.resolution, reader.origin]).toEqual(['EPSG:32634', 10, [700000, 3600000]]);
    const image = await (await fromFile(join(FIXTURES, 'cog/rio-tiler/cog_gcps.tif'))).getImage(0);
    const stored = ((await image.readRasters({ window: [0, 0, 32, 8], interleave: false })) as unknown as ArrayLike<number>[])[0]!;
    const raster = await reader.read({ crs: 'EPSG:32634', width: 32, height: 8, transform: [10, 0, 700000, 0, -10, 3600000] });
    let wrong = 0;
    for (let row = 0; row < 8; row++) {
      for (let col = 0; col < 32; col++) {
        const i = row * 32 + col;
        // West of vh's file nothing is valid; elsewhere vv is its file's pixel and vh the one 4 columns to the west.
        const expected = col < 4 ? [0, 0, 0] : [255, stored[i]!, stored[i - 4]!];
        if ([raster.mask[i], raster.bands[0]![i], raster.bands[1]![i]].some((value, k) => value !== expected[k])) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });

  it('describes an item without a bbox whose grid does not project to longitude and latitude as covering the world', async () => {
    const far = { ...s1Asset(`${server.url}/cog/rio-tiler/cog_gcps.tif`, { name: 'vv', unit: 'dB' }), 'proj:code': 'EPSG:32634', 'proj:transform': [10, 0, 1e8, 0, -10, 1e8], 'proj:shape': [837, 1280] };
    const { bbox: _, ...item } = s1Item('far', far, { ...far, href: `${far.href}?second`, bands: [{ name: 'vh', unit: 'dB' }] });
    writeFileSync(join(dir, 'far.json'), JSON.stringify(item));
    const reader = await createSourceOpener({ fetch }).open(`${items.url}/far.json`, 'S1RTC');
    expect(reader.bounds).toEqual([-180, -90, 180, 90]);
  });

  it('applies a scale without an offset, and an offset without a scale, to every pixel', async () => {
    const opener = createSourceOpener({ fetch });
    const { grid, bands } = await readDirect(DEM38);
    const stored = bands[0]!;
    for (const [name, convert] of [
      ['dem-scale-only', (v: number) => v * 0.5],
      ['dem-offset-only', (v: number) => v - 100],
    ] as const) {
      const raster = await (await opener.open(`${items.url}/${name}.json`, 'DEM')).read(grid);
      let wrong = 0;
      for (let i = 0; i < stored.length; i++) if (raster.bands[0]![i] !== convert(stored[i]!)) wrong++;
      expect(wrong, name).toBe(0);
      // By hand: the chip minimum, stored 1192.
      const lowest = Array.prototype.indexOf.call(stored, 1192);
      expect(raster.bands[0]![lowest], name).toBe(name === 'dem-scale-only' ? 596 : 1092);
    }
  });

  it('a pixel one file marks as no data is masked, and 0, in the bands of every file', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${items.url}/one-file-masked.json`, 'S1RTC');
    const { grid, bands } = await readDirect(DEM38);
    const stored = bands[0]!;
    const raster = await reader.read(grid);
    let masked = 0;
    let wrong = 0;
    for (let i = 0; i < stored.length; i++) {
      const nodata = stored[i] === 1214;
      if (nodata) masked++;
      const expected = nodata ? [0, 0, 0] : [255, stored[i], stored[i]];
      if (raster.mask[i] !== expected[0] || raster.bands[0]![i] !== expected[1] || raster.bands[1]![i] !== expected[2]) wrong++;
    }
    expect(masked).toBe(1807);
    expect(wrong).toBe(0);
  });
});

describe('opening: magic bytes, STAC document sizes, logging and cache budgets', () => {
  const DEM38 = `terramind-examples/DEM/38D_378R_2_3.tif`;
  let dir: string;
  let files: FixtureServer;
  let bigItem: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sources-docs-'));
    const bytes = (...values: number[]) => new Uint8Array([...values, ...new Array(12).fill(0)]);
    writeFileSync(join(dir, 'four-bytes.tif'), new Uint8Array([0x49, 0x49, 0x2a, 0x00]));
    for (const [name, head] of [['IX', [0x49, 0x58]], ['XI', [0x58, 0x49]], ['MX', [0x4d, 0x58]], ['XM', [0x58, 0x4d]]] as const) {
      writeFileSync(join(dir, `${name}.tif`), bytes(...head, 0x2a, 0x00));
    }
    // A float32 three-band image: the right band count for S2RGB, the wrong sample type.
    const grid: Grid = { crs: 'EPSG:32736', width: 4, height: 4, transform: [10, 0, 500000, 0, -10, 9600000] };
    const floatRgb = createRaster(grid, ['RED', 'GREEN', 'BLUE'], 'S2RGB');
    floatRgb.mask.fill(255);
    writeFileSync(join(dir, 'float-rgb.tif'), encodeGeoTiff(floatRgb));
    // A STAC item past the first 16 KiB block (a long description, as real items have).
    const chipItem = JSON.parse(readFileSync(join(FIXTURES, 'stac-local/terramind-chips.json'), 'utf8')).features.find((f: { id: string }) => f.id.endsWith('-DEM'));
    chipItem.assets.data.href = `${server.url}/${DEM38}`;
    chipItem.properties.description = 'A digital elevation model chip. '.repeat(1000);
    bigItem = JSON.stringify(chipItem);
    writeFileSync(join(dir, 'big-item.json'), bigItem);
    files = await startFixtureServer(dir);
  });
  afterAll(async () => {
    await files.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const refusal = async (promise: Promise<unknown>) => (await promise.catch((e: unknown) => e)) as OgcError;

  it('a TIFF signature with no header behind it is a truncated GeoTIFF; one matching byte is not a signature', async () => {
    const opener = createSourceOpener({ fetch });
    const truncated = await refusal(opener.open(`${files.url}/four-bytes.tif`, 'DEM'));
    expect([truncated.status, truncated.detail]).toEqual([502, `${files.url}/four-bytes.tif is not a GeoTIFF or is truncated (4 bytes)`]);
    for (const name of ['IX', 'XI', 'MX', 'XM']) {
      const error = await refusal(opener.open(`${files.url}/${name}.tif`, 'DEM'));
      expect([error.status, error.detail], name).toEqual([502, `${files.url}/${name}.tif is neither a GeoTIFF nor a STAC item JSON (not a GeoTIFF: wrong magic bytes)`]);
    }
  });

  it('fetches https URLs (they are not refused as a scheme)', async () => {
    const opener = createSourceOpener({ fetch });
    // Port 1 is one fetch refuses to connect to, so this fails fast and the same way everywhere.
    const error = await refusal(opener.open('https://127.0.0.1:1/x.tif', 'DEM'));
    expect([error.status, error.detail]).toEqual([502, 'Could not fetch https://127.0.0.1:1/x.tif: bad port']);
  });

  it('holds a STAC item of unknown length (Content-Range total "*") to the size limit while it arrives', async () => {
    const body = Buffer.from(bigItem);
    const unknownLength = createServer((request, response) => {
      const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
      if (!range) return response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
      const part = body.subarray(Number(range[1]), Number(range[2]) + 1);
      response.writeHead(206, { 'content-range': `bytes ${range[1]}-${Number(range[1]) + part.length - 1}/*`, 'content-length': part.length }).end(part);
    });
    await new Promise<void>((resolve) => unknownLength.listen(0, '127.0.0.1', resolve));
    const href = `http://127.0.0.1:${(unknownLength.address() as AddressInfo).port}/item.json`;
    try {
      // Operator configuration (trusted) reads http documents the same way.
      for (const trusted of [false, true]) {
        const exact = createSourceOpener({ fetch, maxDocumentBytes: body.length });
        expect((await exact.open(href, 'DEM', { trusted })).id).toBe('terramind-38D_378R_2_3-DEM');
        const error = await refusal(createSourceOpener({ fetch, maxDocumentBytes: body.length - 1 }).open(href, 'DEM', { trusted }));
        expect([error.status, error.detail], `trusted: ${trusted}`).toEqual([502, `${href} is too large: ${body.length} bytes, the limit is STAC_MAX_DOCUMENT_BYTES=${body.length - 1}`]);
      }
    } finally {
      await new Promise((resolve) => unknownLength.close(resolve));
    }
  });

  it('plain GeoTIFFs: the band-count and sample-type refusals say exactly what is wrong', async () => {
    const opener = createSourceOpener({ fetch });
    const dem = await refusal(opener.open(`${server.url}/terramind-examples/S1RTC/${CHIP}.tif`, 'DEM'));
    expect([dem.status, dem.detail]).toEqual([
      400,
      `${CHIP}.tif has 2 band(s) but modality DEM needs 1 (elevation); give a file with exactly those bands in that order, or a STAC item`,
    ]);
    const s1 = await refusal(opener.open(`${server.url}/terramind-examples/DEM/${CHIP}.tif`, 'S1RTC'));
    expect(s1.detail).toBe(`${CHIP}.tif has 1 band(s) but modality S1RTC needs 2 (vv, vh); give a file with exactly those bands in that order, or a STAC item`);
    const float = await refusal(opener.open(`${files.url}/float-rgb.tif`, 'S2RGB'));
    expect([float.status, float.detail]).toEqual([400, 'float-rgb.tif has 32-bit samples; S2RGB needs an 8-bit true-colour image']);
  });

  it('reads STAC items longer than one block over http and from trusted files, up to exactly the size limit', async () => {
    const size = Buffer.byteLength(bigItem);
    expect(size).toBeGreaterThan(16 * 1024);
    const local = pathToFileURL(join(dir, 'big-item.json')).href;
    for (const href of [`${files.url}/big-item.json`, local]) {
      const exact = createSourceOpener({ fetch, maxDocumentBytes: size });
      expect((await exact.open(href, 'DEM', { trusted: true })).id, href).toBe('terramind-38D_378R_2_3-DEM');
      const under = createSourceOpener({ fetch, maxDocumentBytes: size - 1 });
      const error = await refusal(under.open(href, 'DEM', { trusted: true }));
      expect([error.status, error.detail], href).toEqual([
        502,
        `${href} is too large: ${size} bytes, the limit is STAC_MAX_DOCUMENT_BYTES=${size - 1} (32 KiB) for a STAC item document`,
      ]);
    }
  });

  it('logs each source it opens once, at debug level, with href and modality', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('debug', { write: (line: string) => lines.push(JSON.parse(line)) });
    const opener = createSourceOpener({ fetch, logger });
    const href = `${server.url}/${DEM38}`;
    await opener.open(href, 'DEM');
    await opener.open(href, 'DEM');
    expect(lines.map(({ level, href, modality, msg }) => ({ level, href, modality, msg }))).toEqual([{ level: 20, href, modality: 'DEM', msg: 'opening source' }]);
  });

  it('books readers at their real header size once opened, so a 100 KiB budget keeps two small ones', async () => {
    // Each header is 15.4 KiB; booked at the provisional 64 KiB, the second would push the first out.
    const opener = createSourceOpener({ fetch, headerCacheBytes: 100 * 1024 });
    const b01 = await opener.open(`${server.url}/cog/titiler/B01.tif`, 'DEM');
    const b09 = await opener.open(`${server.url}/cog/titiler/B09.tif`, 'DEM');
    expect(opener.stats().openedReaders).toBe(2);
    expect(await opener.open(`${server.url}/cog/titiler/B01.tif`, 'DEM')).toBe(b01);
    expect(await opener.open(`${server.url}/cog/titiler/B09.tif`, 'DEM')).toBe(b09);
  });

  it('books a reader at no less than its header size: a 70 KiB budget cannot keep a second while it opens', async () => {
    // B01 booked at its 15.4 KiB plus B09 at the provisional 64 KiB pass 70 KiB, so B01 is evicted; a reader booked
    // at 1 byte would stay.
    const opener = createSourceOpener({ fetch, headerCacheBytes: 70 * 1024 });
    const b01 = await opener.open(`${server.url}/cog/titiler/B01.tif`, 'DEM');
    await opener.open(`${server.url}/cog/titiler/B09.tif`, 'DEM');
    expect(opener.stats().openedReaders).toBe(1);
    expect(await opener.open(`${server.url}/cog/titiler/B01.tif`, 'DEM')).not.toBe(b01);
  });

  it('does not keep a failed file open: once the missing file exists, the next open reads it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sources-retry-'));
    try {
      const band = join(dir, 'dem.tif');
      const item = join(dir, 'item.json');
      writeFileSync(item, JSON.stringify({
        type: 'Feature',
        stac_version: '1.1.0',
        id: 'retry',
        bbox: [-48.2, -25.4, -48.0, -25.2],
        geometry: null,
        properties: { datetime: '2020-01-01T00:00:00Z' },
        links: [],
        assets: { data: { href: pathToFileURL(band).href, type: 'image/tiff; application=geotiff', roles: ['data'], bands: [{ name: 'elevation' }] } },
      }));
      const opener = createSourceOpener({ fetch });
      await expect(opener.open(pathToFileURL(item).href, 'DEM', { trusted: true })).rejects.toMatchObject({ status: 400, detail: expect.stringMatching(/^Cannot open local file .*dem\.tif/) });
      copyFileSync(join(FIXTURES, `terramind-examples/DEM/${CHIP}.tif`), band);
      const reader = await opener.open(pathToFileURL(item).href, 'DEM', { trusted: true });
      const { grid, bands } = await readDirect(`terramind-examples/DEM/${CHIP}.tif`);
      expect(Array.from((await reader.read(grid)).bands[0]!)).toEqual(Array.from(bands[0]!));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maps errors that are not OGC exceptions: a timeout is a 504, any other failure a 502 naming the cause, an abort stays an abort', async () => {
    const href = `${server.url}/cog/titiler/B01.tif`;
    const failing = (error: Error) => createSourceOpener({ fetch: async () => { throw error; } });
    const timeout = await failing(new DOMException('The operation timed out.', 'TimeoutError')).open(href, 'DEM').catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(OgcError);
    expect([(timeout as OgcError).status, (timeout as OgcError).detail]).toEqual([504, `Opening ${href} timed out`]);
    const failed = await failing(new TypeError('fetch failed')).open(href, 'DEM').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OgcError);
    expect([(failed as OgcError).status, (failed as OgcError).detail]).toEqual([502, `Opening ${href} failed: fetch failed`]);
    const aborted = await failing(new DOMException('This operation was aborted', 'AbortError')).open(href, 'DEM').catch((e: unknown) => e);
    expect(aborted).not.toBeInstanceOf(OgcError);
    expect((aborted as Error).name).toBe('AbortError');
  });

  it('keeps fetched pixel bytes in the block cache by default, so a repeated read costs no request', async () => {
    const opener = createSourceOpener({ fetch, decodedCacheBytes: 0 });
    const reader = await opener.open(`${server.url}/cog/titiler/TCI.tif`, 'S2RGB');
    const grid: Grid = { crs: 'EPSG:32634', width: 64, height: 64, transform: [100, 0, 699960 + 300 * 100, 0, -100, 3600000 - 300 * 100] };
    await reader.read(grid);
    const first = opener.stats().requests;
    await reader.read(grid);
    expect(opener.stats().requests).toBe(first);
    expect(opener.stats().cachedBytes).toBeGreaterThan(0);
  });
});
