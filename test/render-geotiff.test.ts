import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromArrayBuffer, fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Affine, Raster } from '../src/raster/raster.js';
import { encodeGeoTiff } from '../src/render/geotiff.js';

const run = promisify(execFile);

/** A 3-band 37x23 raster with distinct values per band/pixel and a hole in the mask. */
function syntheticRaster(crs = 'EPSG:32632', transform: Affine = [10, 0, 500_000, 0, -10, 6_000_000]): Raster {
  const width = 37;
  const height = 23;
  const bands = [0, 1, 2].map((b) => Float32Array.from({ length: width * height }, (_, i) => b * 1000 + i * 0.25 - 50));
  const mask = new Uint8Array(width * height).fill(255);
  for (let row = 5; row < 8; row++) for (let col = 10; col < 20; col++) mask[row * width + col] = 0;
  return { crs, transform, width, height, bands, bandNames: ['B04', 'B03', 'B02'], mask };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function gdalinfo(path: string): Promise<any> {
  const { stdout } = await run('gdalinfo', ['-json', '-mm', path]);
  return JSON.parse(stdout);
}

describe('encodeGeoTiff', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tmogc-geotiff-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips values, size, origin, resolution and EPSG through geotiff.js', async () => {
    const raster = syntheticRaster();
    const tiff = await fromArrayBuffer(toArrayBuffer(encodeGeoTiff(raster)));
    const image = await tiff.getImage();
    expect([image.getWidth(), image.getHeight(), image.getSamplesPerPixel()]).toEqual([37, 23, 3]);
    expect(image.getOrigin()).toEqual([500_000, 6_000_000, 0]);
    expect(image.getResolution()).toEqual([10, -10, 0]);
    expect(image.getGeoKeys()?.ProjectedCSTypeGeoKey).toBe(32632);
    expect(image.getGDALNoData()).toBeNaN();
    const data = await image.readRasters();
    for (let b = 0; b < 3; b++) {
      const values = data[b] as Float32Array;
      expect(values).toBeInstanceOf(Float32Array);
      for (let i = 0; i < values.length; i++) {
        if (raster.mask[i] === 0) {
          if (!Number.isNaN(values[i])) throw new Error(`pixel ${i} band ${b} should be nodata`);
        } else if (values[i] !== raster.bands[b][i]) {
          throw new Error(`pixel ${i} band ${b}: ${values[i]} != ${raster.bands[b][i]}`);
        }
      }
    }
  });

  it('is read by GDAL with the same georeferencing, CRS, band names, nodata and values', async () => {
    const raster = syntheticRaster();
    const path = join(dir, 'synthetic.tif');
    await writeFile(path, encodeGeoTiff(raster));
    const info = await gdalinfo(path);
    expect(info.driverShortName).toBe('GTiff');
    expect(info.size).toEqual([37, 23]);
    expect(info.geoTransform).toEqual([500_000, 10, 0, 6_000_000, 0, -10]);
    expect(info.stac['proj:epsg']).toBe(32632);
    expect(info.metadata['']?.AREA_OR_POINT).toBe('Area');
    expect(info.bands.map((b: any) => b.type)).toEqual(['Float32', 'Float32', 'Float32']);
    expect(info.bands.map((b: any) => b.description)).toEqual(['B04', 'B03', 'B02']);
    expect(info.bands.map((b: any) => b.noDataValue)).toEqual(['NaN', 'NaN', 'NaN']);
    // Masked pixels do not count; the valid extremes are the first and last pixel.
    expect(info.bands[1].computedMin).toBeCloseTo(950, 3);
    expect(info.bands[1].computedMax).toBeCloseTo(1000 + (37 * 23 - 1) * 0.25 - 50, 3);
  });

  it('writes a rotated transform as ModelTransformation and geographic CRSs as GeographicTypeGeoKey', async () => {
    const rotated = syntheticRaster('EPSG:3857', [10, 2, 1_000_000, 1, -10, 5_000_000]);
    const rotatedPath = join(dir, 'rotated.tif');
    await writeFile(rotatedPath, encodeGeoTiff(rotated));
    const rotatedInfo = await gdalinfo(rotatedPath);
    expect(rotatedInfo.geoTransform).toEqual([1_000_000, 10, 2, 5_000_000, 1, -10]);
    expect(rotatedInfo.stac['proj:epsg']).toBe(3857);

    const geographic = syntheticRaster('EPSG:4326', [0.001, 0, 7.5, 0, -0.001, 46.9]);
    geographic.mask.fill(255);
    const path = join(dir, 'geographic.tif');
    await writeFile(path, encodeGeoTiff(geographic));
    const info = await gdalinfo(path);
    expect(info.stac['proj:epsg']).toBe(4326);
    expect(info.geoTransform[0]).toBeCloseTo(7.5, 9);
    expect(info.geoTransform[3]).toBeCloseTo(46.9, 9);
    expect(info.bands[0].noDataValue).toBeUndefined(); // no holes, no nodata tag
    const image = await (await fromArrayBuffer(toArrayBuffer(encodeGeoTiff(geographic)))).getImage();
    expect(image.getGeoKeys()?.GeographicTypeGeoKey).toBe(4326);
  });

  it('round-trips a real 12-band S2L2A chip exactly, with a chosen nodata value', async () => {
    const source = await (await fromFile(new URL('./fixtures/terramind-examples/S2L2A/282D_485L_3_3.tif', import.meta.url).pathname)).getImage();
    const data = await source.readRasters();
    const [ox, oy] = source.getOrigin();
    const [rx, ry] = source.getResolution();
    const raster: Raster = {
      crs: `EPSG:${source.getGeoKeys()?.ProjectedCSTypeGeoKey}`,
      transform: [rx, 0, ox, 0, ry, oy],
      width: source.getWidth(),
      height: source.getHeight(),
      bands: Array.from({ length: data.length }, (_, b) => Float32Array.from(data[b] as ArrayLike<number>)),
      bandNames: Array.from({ length: data.length }, (_, b) => `band${b + 1}`),
      mask: new Uint8Array(source.getWidth() * source.getHeight()).fill(255),
    };
    raster.mask[0] = 0;
    const path = join(dir, 's2.tif');
    await writeFile(path, encodeGeoTiff(raster, { nodata: -9999 }));
    const back = await (await fromFile(path)).getImage();
    expect(back.getOrigin().slice(0, 2)).toEqual([ox, oy]);
    expect(back.getGeoKeys()?.ProjectedCSTypeGeoKey).toBe(32722);
    expect(back.getGDALNoData()).toBe(-9999);
    const backData = await back.readRasters();
    expect(backData.length).toBe(12);
    for (let b = 0; b < 12; b++) {
      const values = backData[b] as Float32Array;
      expect(values[0]).toBe(-9999);
      expect(Buffer.from(values.buffer, values.byteOffset + 4, values.byteLength - 4).equals(Buffer.from(raster.bands[b].buffer, 4))).toBe(true);
    }
    const info = await gdalinfo(path);
    expect(info.bands).toHaveLength(12);
    expect(info.bands[0].noDataValue).toBe(-9999);
    expect(info.stac['proj:epsg']).toBe(32722);
  });

  it('refuses CRSs it cannot encode', () => {
    expect(() => encodeGeoTiff(syntheticRaster('+proj=longlat'))).toThrow(/EPSG/);
  });
});
