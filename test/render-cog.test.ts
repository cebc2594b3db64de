import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromArrayBuffer } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Raster } from '../src/raster/raster.js';
import { encodeCog } from '../src/render/cog.js';
import { encodeGeoTiff } from '../src/render/geotiff.js';
import { validateCog } from './helpers/cog-validate.js';
import { hasGdal } from './helpers/gdal.js';

/**
 * The COG writer against GDAL 3.6 (gdalinfo, gdal_translate reading pixels back, GDAL's own validator script
 * where python3-gdal is installed) and against our re-implementation of the validator's rules. Values are
 * formulas of (x, y), so every expected pixel (and every overview pixel: the mean of its 2x2 block) is computed
 * here by hand, not by the writer's code.
 */
const run = promisify(execFile);
const VALIDATOR = '/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py';

const W = 600;
const H = 520;
const v0 = (x: number, y: number) => x + 1000 * y;
const v1 = (x: number, y: number) => ((x * y) % 97) - 48.5;
/** The top-left 16x16 block has no data. */
const hole = (x: number, y: number) => x < 16 && y < 16;

function formulaRaster(): Raster {
  const bands = [new Float32Array(W * H), new Float32Array(W * H)];
  const mask = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      bands[0][y * W + x] = v0(x, y);
      bands[1][y * W + x] = v1(x, y);
      mask[y * W + x] = hole(x, y) ? 0 : 255;
    }
  }
  return { crs: 'EPSG:32632', transform: [10, 0, 500_000, 0, -10, 5_200_000], width: W, height: H, bands, bandNames: ['vv', 'vh'], mask };
}

function classRaster(): Raster {
  const band = new Float32Array(W * H);
  const mask = new Uint8Array(W * H).fill(255);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) band[y * W + x] = (Math.floor(x / 8) + Math.floor(y / 8)) % 10;
  mask[0] = 0;
  return { crs: 'EPSG:32632', transform: [10, 0, 500_000, 0, -10, 5_200_000], width: W, height: H, bands: [band], bandNames: ['class'], mask };
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

describe('encodeCog: structure by our validator rules', () => {
  it('lays out ghost area, IFDs (main then overviews) and tiles (smallest overview first) as GDAL checks', async () => {
    const bytes = await encodeCog(formulaRaster(), { blockSize: 256 });
    const report = validateCog(bytes, { fullCheck: true });
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
    // 600x520 -> 300x260 (still wider than a tile) -> 150x130 (fits in one 256 tile).
    expect(report.levels.map((l) => [l.width, l.height, l.tileWidth])).toEqual([
      [600, 520, 256],
      [300, 260, 256],
      [150, 130, 256],
    ]);
    expect(report.structural).toEqual({
      LAYOUT: 'IFDS_BEFORE_DATA',
      BLOCK_ORDER: 'ROW_MAJOR',
      BLOCK_LEADER: 'SIZE_AS_UINT4',
      BLOCK_TRAILER: 'LAST_4_BYTES_REPEATED',
      KNOWN_INCOMPATIBLE_EDITION: 'NO',
    });
    // 8-byte header + 43-byte size line + 140 bytes of metadata = 191, rounded up to a 2-byte boundary.
    expect(report.ifdOffsets[0]).toBe(192);
    expect(report.ifdOffsets).toEqual([...report.ifdOffsets].sort((a, b) => a - b));
    expect(report.dataOffsets).toEqual([...report.dataOffsets].sort((a, b) => b - a));
  });

  it('the rules catch files that are not COGs: a plain striped GeoTIFF, and a broken tile trailer', async () => {
    const plain = validateCog(encodeGeoTiff({ ...formulaRaster(), width: 1100, height: 1, bands: [new Float32Array(1100)], mask: new Uint8Array(1100) }));
    expect(plain.errors).toEqual(['The file is greater than 512xH or Wx512, but is not tiled']);
    expect(plain.warnings).toEqual(['The file is greater than 512xH or Wx512, it is recommended to include internal overviews']);

    const bytes = await encodeCog(formulaRaster(), { blockSize: 256 });
    const first = validateCog(bytes).dataOffsets[0];
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const size = view.getUint32(first - 4, true);
    bytes[first + size + 1] ^= 0xff;
    expect(validateCog(bytes, { fullCheck: true }).errors).toEqual(['Main resolution image: for block (0, 0), trailer bytes are invalid']);
  });

  it('a raster that fits in one tile has no overviews and no warning', async () => {
    const small = { ...formulaRaster(), width: 200, height: 100, bands: [new Float32Array(20_000)], mask: new Uint8Array(20_000).fill(255), bandNames: ['a'] };
    const report = validateCog(await encodeCog(small, { blockSize: 256 }), { fullCheck: true });
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.levels).toEqual([{ width: 200, height: 100, tileWidth: 256, tileHeight: 256 }]);
  });

  it('geotiff.js reads every pixel back: values, nodata for masked pixels, and the mean-of-2x2 overview', async () => {
    const tiff = await fromArrayBuffer(arrayBufferOf(await encodeCog(formulaRaster(), { blockSize: 512 })));
    expect(await tiff.getImageCount()).toBe(2);
    const image = await tiff.getImage(0);
    expect(image.getOrigin()).toEqual([500_000, 5_200_000, 0]);
    expect(image.getResolution()).toEqual([10, -10, 0]);
    expect(image.getGeoKeys()?.ProjectedCSTypeGeoKey).toBe(32632);
    const [b0, b1] = (await image.readRasters()) as unknown as Float32Array[];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (hole(x, y)) {
          if (!Number.isNaN(b0[i]) || !Number.isNaN(b1[i])) throw new Error(`(${x},${y}) should be nodata`);
        } else if (b0[i] !== v0(x, y) || b1[i] !== v1(x, y)) {
          throw new Error(`(${x},${y}): ${b0[i]},${b1[i]} != ${v0(x, y)},${v1(x, y)}`);
        }
      }
    }
    const overview = await tiff.getImage(1);
    expect([overview.getWidth(), overview.getHeight()]).toEqual([300, 260]);
    const [o0] = (await overview.readRasters()) as unknown as Float32Array[];
    // Mean of x + 1000y over x in {2X, 2X+1}, y in {2Y, 2Y+1} = (2X + 0.5) + 1000 (2Y + 0.5).
    for (const [X, Y] of [[8, 0], [100, 77], [299, 259]]) expect(o0[Y * 300 + X]).toBe(2 * X + 0.5 + 1000 * (2 * Y + 0.5));
    expect(o0[7 * 300 + 7]).toBeNaN();
  });
});

describe.skipIf(!hasGdal)('encodeCog: GDAL 3.6 as the reader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tmogc-cog-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gdalinfo reports LAYOUT=COG, deflate with the floating-point predictor, georeferencing, nodata, descriptions, unit, metadata', async () => {
    const path = join(dir, 'float.tif');
    await writeFile(path, await encodeCog(formulaRaster(), { blockSize: 256, unit: 'dB', metadata: { seed: '7', weights: 'random (not a trained model)' } }));
    const info = JSON.parse((await run('gdalinfo', ['-json', path])).stdout);
    expect(info.metadata.IMAGE_STRUCTURE).toEqual({ COMPRESSION: 'DEFLATE', INTERLEAVE: 'PIXEL', LAYOUT: 'COG', PREDICTOR: '3' });
    expect(info.metadata['']).toEqual({ AREA_OR_POINT: 'Area', seed: '7', weights: 'random (not a trained model)' });
    expect(info.geoTransform).toEqual([500_000, 10, 0, 5_200_000, 0, -10]);
    expect(info.coordinateSystem.wkt).toMatch(/ID\["EPSG",32632\]\]$/);
    expect(info.bands.map((b: any) => [b.description, b.type, b.block, b.noDataValue, b.unit])).toEqual([
      ['vv', 'Float32', [256, 256], 'NaN', 'dB'],
      ['vh', 'Float32', [256, 256], 'NaN', 'dB'],
    ]);
    expect(info.bands[0].overviews.map((o: any) => o.size)).toEqual([
      [300, 260],
      [150, 130],
    ]);
  });

  it('GDAL reads the same pixels (full image and first overview) as the formulas give', async () => {
    const path = join(dir, 'values.tif');
    await writeFile(path, await encodeCog(formulaRaster(), { blockSize: 256 }));
    await run('gdal_translate', ['-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', path, join(dir, 'full.raw')]);
    await run('gdal_translate', ['-q', '-ovr', '0', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', path, join(dir, 'ovr.raw')]);
    const full = new Float32Array(arrayBufferOf(await readFile(join(dir, 'full.raw'))));
    // Band-sequential, as asked.
    for (const [x, y] of [[16, 0], [599, 519], [123, 456], [0, 16]]) {
      expect(full[y * W + x]).toBe(v0(x, y));
      expect(full[W * H + y * W + x]).toBe(v1(x, y));
    }
    expect(full[5 * W + 5]).toBeNaN();
    const ovr = new Float32Array(arrayBufferOf(await readFile(join(dir, 'ovr.raw'))));
    expect(ovr[77 * 300 + 100]).toBe(200.5 + 1000 * 154.5);
  });

  it('a uint8 class map: horizontal predictor, palette, nodata 255, mode overviews', async () => {
    const path = join(dir, 'classes.tif');
    await writeFile(path, await encodeCog(classRaster(), { sampleType: 'uint8', resampling: 'mode', palette: ['#000000', '#3171AD', '#469C76'] }));
    const info = JSON.parse((await run('gdalinfo', ['-json', path])).stdout);
    expect(info.metadata.IMAGE_STRUCTURE).toEqual({ COMPRESSION: 'DEFLATE', INTERLEAVE: 'BAND', LAYOUT: 'COG', PREDICTOR: '2' });
    expect(info.bands[0].type).toBe('Byte');
    expect(info.bands[0].noDataValue).toBe(255);
    expect(info.bands[0].colorInterpretation).toBe('Palette');
    expect(info.bands[0].colorTable.entries.slice(0, 3)).toEqual([
      [0, 0, 0, 255],
      [49, 113, 173, 255],
      [70, 156, 118, 255],
    ]);
    await run('gdal_translate', ['-q', '-ovr', '0', '-of', 'ENVI', path, join(dir, 'classes-ovr.raw')]);
    const ovr = await readFile(join(dir, 'classes-ovr.raw'));
    // Blocks of 8 source pixels are blocks of 4 overview pixels, all one class: the mode is that class.
    expect(ovr[10 * 300 + 21]).toBe((Math.floor(42 / 8) + Math.floor(20 / 8)) % 10);
  });

  it.skipIf(!existsSync(VALIDATOR))("GDAL's own validate_cloud_optimized_geotiff.py --full-check=yes accepts both", async () => {
    for (const [name, raster, options] of [
      ['v-float.tif', formulaRaster(), { blockSize: 256 as const }],
      ['v-class.tif', classRaster(), { sampleType: 'uint8' as const, resampling: 'mode' as const }],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, await encodeCog(raster, options));
      const { stdout } = await run('/usr/bin/python3', [VALIDATOR, '--full-check=yes', path]);
      expect(stdout).toContain('is a valid cloud optimized GeoTIFF');
    }
  });

  it('our rules agree with GDAL on a COG written by gdal_translate -of COG', async () => {
    const source = join(dir, 'source.tif');
    await writeFile(source, encodeGeoTiff(formulaRaster()));
    const cog = join(dir, 'gdal-cog.tif');
    await run('gdal_translate', ['-q', '-of', 'COG', '-co', 'BLOCKSIZE=256', '-co', 'COMPRESS=DEFLATE', source, cog]);
    const report = validateCog(new Uint8Array(await readFile(cog)), { fullCheck: true });
    expect(report.errors).toEqual([]);
    expect(report.levels.length).toBeGreaterThan(1);
  });
});
