import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromFile, writeArrayBuffer } from 'geotiff';
import proj4 from 'proj4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OgcError } from '../src/errors.js';
import { createGuardedFetch } from '../src/net/guarded-fetch.js';
import { createBlockCache } from '../src/raster/block-cache.js';
import { CachedByteSource, httpRangeReader } from '../src/raster/byte-source.js';
import { openCog } from '../src/raster/cog.js';
import type { Grid } from '../src/raster/raster.js';
import { readOntoGrid } from '../src/raster/read.js';
import { createSourceOpener } from '../src/sources/open.js';
import { FIXTURES, startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { tileAt } from './helpers/tiles.js';
import '../src/geo/crs.js';


/**
 * A 4x4 uint8 GeoTIFF (EPSG:32634, 100 m) written by geotiff.js, plus a GDAL-style internal mask appended by
 * hand: a second IFD with NewSubfileType 4 (mask), 1 bit per pixel, rows given as bit strings (1 = valid).
 */
function withInternalMask(maskRows: string[]): Buffer {
  const values = Array.from({ length: 16 }, (_, i) => 10 + i);
  const image = Buffer.from(
    writeArrayBuffer(values, {
      height: 4,
      width: 4,
      BitsPerSample: [8],
      SampleFormat: [1],
      ProjectedCSTypeGeoKey: 32634,
      GTModelTypeGeoKey: 1,
      GTRasterTypeGeoKey: 1,
      ModelPixelScale: [100, 100, 0],
      ModelTiepoint: [0, 0, 0, 700000, 3600000, 0],
    } as never),
  );
  const entries: [number, number, number][] = [
    [254, 4, 4], // NewSubfileType: transparency mask
    [256, 3, 4],
    [257, 3, 4],
    [258, 3, 1], // 1 bit per sample
    [259, 3, 1],
    [262, 3, 4], // Photometric: transparency mask
    [273, 4, 0], // StripOffsets (patched)
    [277, 3, 1],
    [278, 3, 4], // RowsPerStrip
    [279, 4, 4], // StripByteCounts: 4 rows of 1 byte
  ];
  const ifdOffset = image.length + (image.length % 2);
  const ifdSize = 2 + entries.length * 12 + 4;
  const out = Buffer.alloc(ifdOffset + ifdSize + 4);
  image.copy(out);
  // geotiff.js writes big-endian ("MM") files; follow whatever byte order the header says.
  const big = out.toString('latin1', 0, 2) === 'MM';
  const u16 = (value: number, at: number) => (big ? out.writeUInt16BE(value, at) : out.writeUInt16LE(value, at));
  const u32 = (value: number, at: number) => (big ? out.writeUInt32BE(value, at) : out.writeUInt32LE(value, at));
  // Chain it after the first IFD.
  const first = big ? out.readUInt32BE(4) : out.readUInt32LE(4);
  const count = big ? out.readUInt16BE(first) : out.readUInt16LE(first);
  u32(ifdOffset, first + 2 + count * 12);
  u16(entries.length, ifdOffset);
  entries.forEach(([tag, type, value], i) => {
    const at = ifdOffset + 2 + i * 12;
    u16(tag, at);
    u16(type, at + 2);
    u32(1, at + 4);
    if (type === 3) u16(value, at + 8);
    else u32(tag === 273 ? ifdOffset + ifdSize : value, at + 8);
  });
  maskRows.forEach((bits, row) => out.writeUInt8(parseInt(bits.padEnd(8, '0'), 2), ifdOffset + ifdSize + row));
  return out;
}

/** A minimal little-endian, uncompressed, single-strip 8-bit TIFF: one IFD at offset 8, pixels after it. */
function tinyTiff({ width, height, nextIfd }: { width: number; height: number; nextIfd: number }): Buffer {
  const entries: [tag: number, type: number, value: number][] = [
    [256, 4, width], // ImageWidth
    [257, 4, height], // ImageLength
    [258, 3, 8], // BitsPerSample
    [259, 3, 1], // Compression: none
    [262, 3, 1], // Photometric: min-is-black
    [273, 4, 0], // StripOffsets (patched below)
    [277, 3, 1], // SamplesPerPixel
    [279, 4, 16], // StripByteCounts
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const buffer = Buffer.alloc(8 + ifdSize + 16);
  buffer.write('II', 0, 'latin1');
  buffer.writeUInt16LE(42, 2);
  buffer.writeUInt32LE(8, 4);
  buffer.writeUInt16LE(entries.length, 8);
  entries.forEach(([tag, type, value], i) => {
    const at = 10 + i * 12;
    buffer.writeUInt16LE(tag, at);
    buffer.writeUInt16LE(type, at + 2);
    buffer.writeUInt32LE(1, at + 4);
    if (type === 3) buffer.writeUInt16LE(value, at + 8);
    else buffer.writeUInt32LE(tag === 273 ? 8 + ifdSize : value, at + 8);
  });
  buffer.writeUInt32LE(nextIfd, 8 + ifdSize - 4);
  return buffer;
}
const fetch = createGuardedFetch({ allowHosts: ['127.0.0.1'], timeoutMs: 10_000, maxBytes: 64 * 1024 * 1024, allowFileUrls: false });


// TCI.tif: EPSG:32634, origin (699960, 3600000), 100 m, 1098 x 1098, nodata 0.
const TCI_URL = '/cog/titiler/TCI.tif';
let tci: { r: Uint8Array; g: Uint8Array; b: Uint8Array };
let server: FixtureServer;

/** The TCI value (full resolution, read directly with geotiff.js) under each pixel centre of a 3857 grid. */
function oracle(grid: Grid): { values: number[][]; inside: boolean[] } {
  const toUtm = proj4('EPSG:3857', 'EPSG:32634');
  const values: number[][] = [[], [], []];
  const inside: boolean[] = [];
  for (let row = 0; row < grid.height; row++) {
    for (let col = 0; col < grid.width; col++) {
      const x = grid.transform[2] + (col + 0.5) * grid.transform[0];
      const y = grid.transform[5] + (row + 0.5) * grid.transform[4];
      const [ux, uy] = toUtm.forward([x, y]);
      const px = Math.floor((ux - 699960) / 100);
      const py = Math.floor((3600000 - uy) / 100);
      const ok = px >= 0 && py >= 0 && px < 1098 && py < 1098;
      inside.push(ok);
      const i = py * 1098 + px;
      values[0].push(ok ? tci.r[i] : 0);
      values[1].push(ok ? tci.g[i] : 0);
      values[2].push(ok ? tci.b[i] : 0);
    }
  }
  return { values, inside };
}

beforeAll(async () => {
  server = await startFixtureServer();
  const image = await (await fromFile(join(FIXTURES, 'cog/titiler/TCI.tif'))).getImage(0);
  const [r, g, b] = (await image.readRasters({ interleave: false })) as unknown as Uint8Array[];
  tci = { r, g, b };
});
afterAll(() => server.close());

const requestsSince = (start: number) => server.requests.slice(start).filter((r) => r.path.endsWith('.tif'));

describe('COG tiles onto WebMercatorQuad', () => {
  it('matches the source colours at full resolution (nearest) and closely with bilinear', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}${TCI_URL}`, 'S2RGB');
    expect(reader.crs).toBe('EPSG:32634');
    expect(reader.resolution).toBe(100);
    // Lon/lat well inside the valid part of the scene; z13 is finer than 100 m, so level 0 is read.
    const grid = tileAt(13, 23.9, 32.0);
    const { values, inside } = oracle(grid);
    const nearest = await reader.read(grid, { resampling: 'nearest' });
    let equal = 0;
    let valid = 0;
    for (let i = 0; i < 256 * 256; i++) {
      if (nearest.mask[i]) valid++;
      if ([0, 1, 2].every((k) => nearest.bands[k][i] === values[k][i])) equal++;
    }
    expect(inside.every(Boolean)).toBe(true);
    expect(valid).toBe(256 * 256);
    // The approximate transformer is within 0.125 px, so only pixels right at a source pixel edge may differ.
    expect(equal / (256 * 256)).toBeGreaterThan(0.99);

    const bilinear = await reader.read(grid);
    let diff = 0;
    for (let i = 0; i < 256 * 256; i++) diff += Math.abs(bilinear.bands[0][i] - values[0][i]);
    expect(diff / (256 * 256)).toBeLessThan(6);
    expect(bilinear.bandNames).toEqual(['red', 'green', 'blue']);
  });

  it('masks the scene nodata (0) exactly where the source has none', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}${TCI_URL}`, 'S2RGB');
    // West edge of the scene, where a wedge of nodata (0,0,0) runs down the image.
    const [lon, lat] = proj4('EPSG:32634', 'EPSG:4326', [699960 + 300 * 100, 3600000 - 500 * 100]);
    const grid = tileAt(12, lon, lat);
    const { values, inside } = oracle(grid);
    const raster = await reader.read(grid, { resampling: 'nearest' });
    let agree = 0;
    let masked = 0;
    let nonZeroMasked = 0;
    for (let i = 0; i < 256 * 256; i++) {
      const sourceValid = inside[i] && (values[0][i] !== 0 || values[1][i] !== 0 || values[2][i] !== 0);
      if ((raster.mask[i] === 255) === sourceValid) agree++;
      if (raster.mask[i] === 0) {
        masked++;
        if (raster.bands[0][i] !== 0) nonZeroMasked++;
      }
    }
    expect(nonZeroMasked).toBe(0);
    expect(masked).toBeGreaterThan(1000);
    expect(masked).toBeLessThan(256 * 256 - 1000);
    expect(agree / (256 * 256)).toBeGreaterThan(0.99);
  });

  it('reads a low-zoom tile from the right overview with few, small requests, and keeps the colours', async () => {
    const start = server.requests.length;
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}${TCI_URL}`, 'S2RGB');
    const grid = tileAt(9, 23.7, 32.0);
    const raster = await reader.read(grid);
    const requests = requestsSince(start);
    const bytes = requests.reduce((sum, r) => sum + r.bytes, 0);
    // Open (1) plus the pixels: internal tiles wanted in one turn are merged into very few range requests
    // (exact ranges: one per window row of internal tiles unless the gap between rows is small).
    expect(requests.length).toBeLessThanOrEqual(4);
    expect(bytes).toBeLessThan(350_000); // the file is 1.5 MB; level 0 alone would be most of it
    // Mean colour over the valid pixels equals the full-resolution source's mean over the same pixels.
    const { values } = oracle(grid);
    let sumOut = 0;
    let sumSrc = 0;
    let n = 0;
    for (let i = 0; i < 256 * 256; i++) {
      if (!raster.mask[i]) continue;
      sumOut += raster.bands[1][i];
      sumSrc += values[1][i];
      n++;
    }
    expect(n).toBeGreaterThan(10_000);
    expect(Math.abs(sumOut / n - sumSrc / n)).toBeLessThan(3);
  });

  it('chooses the coarsest overview that is still fine enough', async () => {
    const blocks = createBlockCache();
    const source = new CachedByteSource(`${server.url}${TCI_URL}`, httpRangeReader(`${server.url}${TCI_URL}`, fetch), blocks);
    const dataset = await openCog(source);
    expect(dataset.levels.map((l) => l.width)).toEqual([1098, 549, 275, 138, 69, 35]);
    // At 32N a WebMercator pixel at zoom z covers 156543/2^z * cos(32°) m; TCI pixels are 100 m.
    const levelAt = async (z: number) => (await readOntoGrid(dataset, [{ sample: 0 }], tileAt(z, 23.7, 32.0), { resampling: 'nearest' })).levelIndex;
    expect(await levelAt(6)).toBe(4); // needs ~20.7 px: level 4 (x15.9)
    expect(await levelAt(7)).toBe(3); // needs ~10.4 px: level 3 (x7.96)
    expect(await levelAt(8)).toBe(2); // needs ~5.2 px: level 2 (x3.99)
    expect(await levelAt(9)).toBe(1); // needs ~2.6 px: level 1 (x2)
    expect(await levelAt(10)).toBe(0); // needs ~1.3 px: full resolution
    expect(await levelAt(12)).toBe(0);
  });

  it('returns an all-masked tile for a tile outside the scene without reading pixels', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}${TCI_URL}`, 'S2RGB');
    const start = server.requests.length;
    const raster = await reader.read(tileAt(10, 10.0, 45.0));
    expect(raster.mask.every((m) => m === 0)).toBe(true);
    expect(raster.bands[0].every((v) => v === 0)).toBe(true);
    expect(requestsSince(start)).toHaveLength(0);
  });

  it('serves a repeated read and a repeated open from cache with zero new requests, and shares in-flight blocks', async () => {
    const opener = createSourceOpener({ fetch });
    const grid = tileAt(11, 23.9, 32.0);
    const url = `${server.url}${TCI_URL}`;
    const first = await (await opener.open(url, 'S2RGB')).read(grid);
    const after = server.requests.length;
    const statsBefore = opener.stats();
    const second = await (await opener.open(url, 'S2RGB')).read(grid);
    expect(server.requests.length).toBe(after);
    expect(opener.stats().requests).toBe(statsBefore.requests);
    expect(Array.from(second.bands[0])).toEqual(Array.from(first.bands[0]));
    // The internal tiles were not decoded again either.
    expect(opener.stats().decodedMisses).toBe(statsBefore.decodedMisses);
    expect(opener.stats().decodedHits).toBeGreaterThan(statsBefore.decodedHits);
    // Without the decoded-tile cache the result is the same, and the block cache alone avoids new requests.
    const plain = createSourceOpener({ fetch, decodedCacheBytes: 0 });
    const plainReader = await plain.open(url, 'S2RGB');
    const third = await plainReader.read(grid);
    expect(Array.from(third.bands[0])).toEqual(Array.from(first.bands[0]));
    const plainBefore = { ...plain.stats(), seen: server.requests.length };
    const fourth = await plainReader.read(grid);
    expect(server.requests.length).toBe(plainBefore.seen);
    expect(plain.stats().requests).toBe(plainBefore.requests);
    expect(plain.stats().blockHits).toBeGreaterThan(plainBefore.blockHits);
    expect(plain.stats().decodedHits).toBe(0);
    expect(Array.from(fourth.bands[2])).toEqual(Array.from(first.bands[2]));

    // Two concurrent cold reads of one tile issue the same requests as one read.
    const start = server.requests.length;
    const coldA = createSourceOpener({ fetch });
    await (await coldA.open(url, 'S2RGB')).read(grid);
    const single = server.requests.length - start;
    const mid = server.requests.length;
    const coldB = createSourceOpener({ fetch });
    const reader = await coldB.open(url, 'S2RGB');
    await Promise.all([reader.read(grid), reader.read(grid), reader.read(grid)]);
    expect(server.requests.length - mid).toBe(single);
    expect(coldB.stats().requests).toBe(single);
    expect(coldB.stats().bytes).toBeGreaterThan(0);
  });
});

describe('files that are not usable GeoTIFFs', () => {
  let dir: string;
  let bad: FixtureServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'raster-bad-'));
    const tciBytes = readFileSync(join(FIXTURES, 'cog/titiler/TCI.tif'));
    writeFileSync(join(dir, 'header-only.tif'), tciBytes.subarray(0, 600));
    writeFileSync(join(dir, 'no-pixels.tif'), tciBytes.subarray(0, 100_000));
    writeFileSync(join(dir, 'garbage.tif'), Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(4000, 0xff)]));
    writeFileSync(join(dir, 'text.tif'), '<html>Access denied</html>');
    writeFileSync(join(dir, 'empty.tif'), '');
    copyFileSync(join(FIXTURES, 'cog/rio-tiler/cog_gcps.tif'), join(dir, 'gcps.tif'));
    writeFileSync(join(dir, 'masked.tif'), withInternalMask(['1111', '0110', '1001', '0000']));
    writeFileSync(join(dir, 'cycle.tif'), tinyTiff({ width: 4, height: 4, nextIfd: 8 }));
    writeFileSync(join(dir, 'huge-strip.tif'), tinyTiff({ width: 100_000, height: 100_000, nextIfd: 0 }));
    bad = await startFixtureServer(dir);
  });
  afterAll(async () => {
    await bad.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const openError = async (name: string, modality: 'S2RGB' | 'DEM' = 'S2RGB') => {
    const opener = createSourceOpener({ fetch });
    try {
      const reader = await opener.open(`${bad.url}/${name}`, modality);
      await reader.read(tileAt(9, 23.7, 32.0));
    } catch (error) {
      return error as OgcError;
    }
    throw new Error(`${name} was accepted`);
  };

  it('answers 502 "not a GeoTIFF" for bytes that are not a TIFF', async () => {
    for (const name of ['text.tif', 'empty.tif', 'garbage.tif']) {
      const error = await openError(name);
      expect(error).toBeInstanceOf(OgcError);
      expect(error.status).toBe(502);
      expect(error.detail).toMatch(/not a GeoTIFF|empty/);
    }
  });

  it('answers 502 for truncated files, whether the cut is in the header or in the pixels', async () => {
    for (const name of ['header-only.tif', 'no-pixels.tif']) {
      const error = await openError(name);
      expect(error).toBeInstanceOf(OgcError);
      expect(error.status).toBe(502);
      expect(error.detail).toMatch(/truncated|not a GeoTIFF/);
    }
  });

  it('honours an internal (GDAL mask IFD, 1-bit) mask', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${bad.url}/masked.tif`, 'DEM');
    const raster = await reader.read({ crs: 'EPSG:32634', width: 4, height: 4, transform: [100, 0, 700000, 0, -100, 3600000] });
    expect(Array.from(raster.mask)).toEqual([255, 255, 255, 255, 0, 255, 255, 0, 255, 0, 0, 255, 0, 0, 0, 0]);
    expect(Array.from(raster.bands[0])).toEqual([10, 11, 12, 13, 0, 15, 16, 0, 18, 0, 0, 21, 0, 0, 0, 0]);
    // A coarser target samples the mask at its pixel centres: source pixels (1,1) valid, (3,1) (1,3) (3,3) not.
    const coarse = await reader.read({ crs: 'EPSG:32634', width: 2, height: 2, transform: [200, 0, 700000, 0, -200, 3600000] });
    expect(Array.from(coarse.mask)).toEqual([255, 0, 0, 0]);
    expect(coarse.bands[0][0]).toBeGreaterThan(10);
  });

  it('ends on a cyclic IFD chain instead of hanging, and refuses decoding bombs', async () => {
    const cycle = await openError('cycle.tif');
    expect(cycle).toBeInstanceOf(OgcError);
    const huge = await openError('huge-strip.tif');
    expect(huge.status).toBe(502);
    expect(huge.detail).toMatch(/blocks of 100000x100000/);
  });

  it('refuses GCP-only files with a 400 that says why', async () => {
    const error = await openError('gcps.tif', 'DEM');
    expect(error.status).toBe(400);
    expect(error.detail).toMatch(/ground control points/);
  });

  it('answers 502 naming the status for a missing file, and 400 for unusable URLs', async () => {
    const missing = await openError('missing.tif');
    expect(missing.status).toBe(502);
    expect(missing.detail).toMatch(/404/);
    const opener = createSourceOpener({ fetch });
    await expect(opener.open('ftp://example.com/a.tif', 'DEM')).rejects.toMatchObject({ status: 400 });
    await expect(opener.open('not a url', 'DEM')).rejects.toMatchObject({ status: 400 });
    await expect(opener.open(`file://${FIXTURES}cog/titiler/dem.tif`, 'DEM')).rejects.toMatchObject({ status: 400 });
  });
});

describe('range merging', () => {
  it('merges adjacent blocks and gaps of up to three blocks, splits at 16 MiB', async () => {
    const { mergeRuns } = await import('../src/raster/byte-source.js');
    const { BLOCK_SIZE } = await import('../src/raster/block-cache.js');
    expect(mergeRuns([0, 1, 2, 6, 11, 12])).toEqual([
      { first: 0, last: 6 },
      { first: 11, last: 12 },
    ]);
    const perRun = (16 * 1024 * 1024) / BLOCK_SIZE;
    const many = Array.from({ length: perRun * 2 + 10 }, (_, i) => i);
    expect(mergeRuns(many)).toEqual([
      { first: 0, last: perRun - 1 },
      { first: perRun, last: 2 * perRun - 1 },
      { first: 2 * perRun, last: 2 * perRun + 9 },
    ]);
  });
});
