import { fromFile } from 'geotiff';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { OgcError } from '../src/errors.js';
import { LULC_CLASSES, MODALITIES, MODALITY_IDS, type Modality } from '../src/modalities.js';
import type { Raster } from '../src/raster/raster.js';
import { colormapLut, hexToRgb } from '../src/render/colormaps.js';
import { encodeImage, parseRenderParams, renderParamsSchema, renderRaster } from '../src/render/index.js';
import type { RgbaImage } from '../src/render/types.js';

const EXAMPLES = new URL('./fixtures/terramind-examples/', import.meta.url);

/** Reads a TerraMind example chip into a Raster (all pixels valid: the examples have no nodata). */
async function readExample(modality: Modality, id = '38D_378R_2_3'): Promise<Raster> {
  const tiff = await fromFile(new URL(`${modality}/${id}.tif`, EXAMPLES).pathname);
  const image = await tiff.getImage();
  const data = await image.readRasters();
  const [originX, originY] = image.getOrigin();
  const [resX, resY] = image.getResolution();
  const width = image.getWidth();
  const height = image.getHeight();
  return {
    crs: `EPSG:${image.getGeoKeys()?.ProjectedCSTypeGeoKey}`,
    transform: [resX, 0, originX, 0, resY, originY],
    width,
    height,
    bands: Array.from({ length: data.length }, (_, i) => Float32Array.from(data[i] as ArrayLike<number>)),
    bandNames: [...MODALITIES[modality].bands],
    mask: new Uint8Array(width * height).fill(255),
    modality,
  };
}

/** A synthetic raster with the given per-band values (one row). */
function rowRaster(modality: Modality, bands: number[][]): Raster {
  const width = bands[0].length;
  return {
    crs: 'EPSG:32632',
    transform: [10, 0, 500000, 0, -10, 6000000],
    width,
    height: 1,
    bands: bands.map((values) => Float32Array.from(values)),
    bandNames: [...MODALITIES[modality].bands].slice(0, bands.length),
    mask: new Uint8Array(width).fill(255),
    modality,
  };
}

const pixel = (image: RgbaImage, i: number) => Array.from(image.data.subarray(i * 4, i * 4 + 4));

/** Masks a block of pixels and checks each renderer leaves exactly those transparent. */
function expectHolesTransparent(raster: Raster, image: () => RgbaImage) {
  for (let i = 0; i < raster.mask.length; i += 7) raster.mask[i] = 0;
  const out = image();
  const wrong = raster.mask.filter((m, i) => (m === 0) !== (out.data[i * 4 + 3] === 0)).length;
  expect(wrong).toBe(0);
}

describe('LULC', () => {
  it('paints every pixel exactly in its class colour', async () => {
    const raster = await readExample('LULC');
    const image = renderRaster(raster, 'LULC');
    const seen = new Set<number>();
    const expected = new Uint8Array(image.data.length);
    for (let i = 0; i < raster.width * raster.height; i++) {
      const cls = raster.bands[0][i];
      seen.add(cls);
      expected.set([...hexToRgb(LULC_CLASSES[cls].color), 255], i * 4);
    }
    expect(seen.size).toBeGreaterThan(1);
    expect(Buffer.from(image.data).equals(Buffer.from(expected))).toBe(true);
  });

  it('rounds to the nearest class, leaves class 0, out-of-range and masked pixels transparent', () => {
    const raster = rowRaster('LULC', [[1.2, 3.6, 0, 9, 12, Number.NaN, 2]]);
    raster.mask[6] = 0;
    const image = renderRaster(raster, 'LULC');
    expect(pixel(image, 0)).toEqual([0x31, 0x71, 0xad, 255]);
    expect(pixel(image, 1)).toEqual([0xea, 0xe1, 0x59, 255]);
    expect(pixel(image, 3)).toEqual([0xc6, 0x65, 0x26, 255]);
    for (const i of [2, 4, 5, 6]) expect(pixel(image, i)[3]).toBe(0);
  });
});

describe('S2RGB', () => {
  it('shows the 8-bit true colour chip as itself', async () => {
    const raster = await readExample('S2RGB');
    const image = renderRaster(raster, 'S2RGB');
    const expected = new Uint8Array(image.data.length);
    for (let i = 0; i < raster.width * raster.height; i++) {
      expected.set([raster.bands[0][i], raster.bands[1][i], raster.bands[2][i], 255], i * 4);
    }
    expect(Buffer.from(image.data).equals(Buffer.from(expected))).toBe(true);
  });

  it('shows the TiTiler TCI COG as itself, with its nodata collar transparent', async () => {
    const tiff = await fromFile(new URL('./fixtures/cog/titiler/TCI.tif', import.meta.url).pathname);
    const overview = await tiff.getImage(2); // a small overview keeps the test fast
    const data = await overview.readRasters();
    const width = overview.getWidth();
    const height = overview.getHeight();
    const bands = [0, 1, 2].map((b) => Float32Array.from(data[b] as ArrayLike<number>));
    const mask = new Uint8Array(width * height);
    for (let i = 0; i < mask.length; i++) mask[i] = bands[0][i] === 0 && bands[1][i] === 0 && bands[2][i] === 0 ? 0 : 255;
    const holes = mask.filter((m) => m === 0).length;
    expect(holes).toBeGreaterThan(0);
    const raster: Raster = { crs: 'EPSG:32634', transform: [1, 0, 0, 0, -1, 0], width, height, bands, bandNames: ['red', 'green', 'blue'], mask };
    const image = renderRaster(raster, 'S2RGB');
    const expected = new Uint8Array(image.data.length);
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] !== 0) expected.set([bands[0][i], bands[1][i], bands[2][i], 255], i * 4);
    }
    expect(Buffer.from(image.data).equals(Buffer.from(expected))).toBe(true);
  });
});

describe('Sentinel-2 reflectance', () => {
  it('maps DN 1000..4000 (reflectance 0..0.3) onto 0..255 with gamma 0.7 by default', () => {
    const dn = [500, 1000, 2000, 4000, 9000];
    const raster = rowRaster('S2L2A', [dn, dn, dn, dn]);
    const image = renderRaster(raster, 'S2L2A');
    const expected = [0, 0, Math.round(Math.pow(1 / 3, 0.7) * 255), 255, 255];
    dn.forEach((_, i) => expect(pixel(image, i)).toEqual([expected[i], expected[i], expected[i], 255]));
  });

  it('takes red, green and blue from B04, B03, B02', () => {
    const l1c = rowRaster('S2L1C', [[1000], [1000], [1000], [4000], [1000], [1000], [1000], [1000], [1000], [1000], [1000], [1000], [1000]]);
    l1c.bands[2][0] = 2500; // B03
    l1c.bands[1][0] = 1000; // B02
    expect(pixel(renderRaster(l1c, 'S2L1C', { gamma: '1' }), 0)).toEqual([255, 128, 0, 255]);
  });

  it('honours rescale and gamma from query strings and rejects bad values with a 400', () => {
    const raster = rowRaster('S2L2A', [[0], [0], [1500], [3000]]);
    const image = renderRaster(raster, 'S2L2A', { rescale: '0,3000', gamma: '1' });
    expect(pixel(image, 0)).toEqual([255, 128, 0, 255]);
    for (const bad of [{ rescale: '3000,0' }, { rescale: 'abc' }, { gamma: '-1' }, { rescale: '1,2,3' }]) {
      let error: unknown;
      try {
        renderRaster(raster, 'S2L2A', bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OgcError);
      expect((error as OgcError).status).toBe(400);
      expect((error as OgcError).detail).toMatch(/S2L2A: (rescale|gamma)/);
    }
  });

  it('renders the real L2A chip close to the 8-bit true-colour chip of the same place', async () => {
    const l2a = renderRaster(await readExample('S2L2A'), 'S2L2A');
    const rgb = await readExample('S2RGB');
    // Different stretches, same scene: the images must be strongly correlated per channel.
    for (let c = 0; c < 3; c++) {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let i = 0; i < rgb.width * rgb.height; i++) {
        xs.push(l2a.data[i * 4 + c]);
        ys.push(rgb.bands[c][i]);
      }
      expect(correlation(xs, ys)).toBeGreaterThan(0.8);
    }
  });

  it('fails with a 400 naming the band when a needed band is missing', () => {
    const raster = rowRaster('S2L2A', [[1], [2]]);
    raster.bandNames = ['B01', 'B02'];
    expect(() => renderRaster(raster, 'S2L2A')).toThrow(/needs band B04/);
  });
});

describe('Sentinel-1', () => {
  it('uses the TerraMind dB false colour', () => {
    const raster = rowRaster('S1RTC', [
      [-10, -40, 12],
      [-20, -50, 0],
    ]);
    const image = renderRaster(raster, 'S1RTC');
    expect(pixel(image, 0)).toEqual([128, 128, Math.round((10 / 20 / 1.5) * 255), 255]);
    // VH is clipped to [-40, -1] in the blue ratio; colours clip to 0..255.
    expect(pixel(image, 1)).toEqual([0, 0, Math.round((40 / 40 / 1.5) * 255), 255]);
    expect(pixel(image, 2)).toEqual([255, 255, 0, 255]);
  });

  it('renders the real S1RTC chip fully opaque and leaves masked pixels transparent', async () => {
    const raster = await readExample('S1RTC');
    const image = renderRaster(raster, 'S1GRD');
    expect(image.data.filter((_, i) => i % 4 === 3 && image.data[i] !== 255).length).toBe(0);
    expectHolesTransparent(raster, () => renderRaster(raster, 'S1RTC'));
  });
});

describe('NDVI', () => {
  it('is red for negative, yellowish at zero and green for positive values', () => {
    const image = renderRaster(rowRaster('NDVI', [[-0.8, 0, 0.8, -1, 1]]), 'NDVI');
    const [neg, zero, pos] = [pixel(image, 0), pixel(image, 1), pixel(image, 2)];
    expect(neg[0]).toBeGreaterThan(neg[1] + 80);
    expect(pos[1]).toBeGreaterThan(pos[0] + 80);
    expect(zero[0]).toBeGreaterThan(200);
    expect(zero[1]).toBeGreaterThan(200);
    const lut = colormapLut('rdylgn');
    expect(pixel(image, 3)).toEqual([lut[0], lut[1], lut[2], 255]);
    expect(pixel(image, 4)).toEqual([lut[765], lut[766], lut[767], 255]);
  });

  it('colours the real chip by sign', async () => {
    const raster = await readExample('NDVI');
    const image = renderRaster(raster, 'NDVI');
    let checked = 0;
    let wrong = 0;
    for (let i = 0; i < raster.width * raster.height; i++) {
      const v = raster.bands[0][i];
      if (Math.abs(v) < 0.3) continue;
      const [r, g] = pixel(image, i);
      if (!(v > 0 ? g > r : r > g)) wrong++;
      checked++;
    }
    expect(checked).toBeGreaterThan(1000);
    expect(wrong).toBe(0);
  });
});

describe('DEM', () => {
  it('maps rescale ends onto the colormap ends', () => {
    const raster = rowRaster('DEM', [[0, 1000, 2000, -50]]);
    const image = renderRaster(raster, 'DEM', { rescale: '0,2000', colormap: 'gray' });
    expect(pixel(image, 0)).toEqual([0, 0, 0, 255]);
    expect(pixel(image, 1)).toEqual([128, 128, 128, 255]);
    expect(pixel(image, 2)).toEqual([255, 255, 255, 255]);
    expect(pixel(image, 3)).toEqual([0, 0, 0, 255]);
  });

  it('stretches to the raster range padded by 5 m by default', () => {
    const image = renderRaster(rowRaster('DEM', [[100, 110]]), 'DEM', { colormap: 'gray' });
    expect(pixel(image, 0)[0]).toBe(Math.round((5 / 20) * 255));
    expect(pixel(image, 1)[0]).toBe(Math.round((15 / 20) * 255));
  });

  it('leaves no-data pixels out of the default stretch (a fill value would flatten the ramp)', () => {
    // -9999 is a typical GDAL fill, 0 is what the reader writes under a mask; neither may widen the range.
    const raster = rowRaster('DEM', [[100, 110, -9999, 0]]);
    raster.mask[2] = 0;
    raster.mask[3] = 0;
    const image = renderRaster(raster, 'DEM', { colormap: 'gray' });
    // range 95..115: 100 -> 5/20 of the ramp, 110 -> 15/20
    expect(pixel(image, 0)).toEqual([64, 64, 64, 255]);
    expect(pixel(image, 1)).toEqual([191, 191, 191, 255]);
    expect(pixel(image, 2)).toEqual([0, 0, 0, 0]);
    expect(pixel(image, 3)).toEqual([0, 0, 0, 0]);
  });

  it('stretches the real DEM chip over its valid pixels only, pixel for pixel', async () => {
    const raster = await readExample('DEM');
    for (let i = 0; i < raster.mask.length; i += 7) {
      raster.mask[i] = 0;
      raster.bands[0][i] = 0; // as the reader leaves masked pixels
    }
    let min = Infinity;
    let max = -Infinity;
    raster.bands[0].forEach((v, i) => {
      if (raster.mask[i] === 0) return;
      min = Math.min(min, v);
      max = Math.max(max, v);
    });
    expect([min, max]).toEqual([1192, 1218]);
    const image = renderRaster(raster, 'DEM', { colormap: 'gray' });
    let wrong = 0;
    raster.bands[0].forEach((v, i) => {
      const expected = raster.mask[i] === 0 ? [0, 0, 0, 0] : Array(3).fill(Math.round(((v - (min - 5)) / (max - min + 10)) * 255)).concat(255);
      if (pixel(image, i).some((c, k) => c !== expected[k])) wrong++;
    });
    expect(wrong).toBe(0);
  });

  it('hill-shades: a slope facing the sun is brighter than one facing away', () => {
    // A ridge running north-south: west flank faces the north-west sun better than the east flank.
    const width = 21;
    const height = 9;
    const values = new Float32Array(width * height);
    for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) values[r * width + c] = 1000 - Math.abs(c - 10) * 8;
    const raster: Raster = { crs: 'EPSG:32632', transform: [10, 0, 0, 0, -10, 0], width, height, bands: [values], bandNames: ['elevation'], mask: new Uint8Array(width * height).fill(255) };
    const flat = renderRaster(raster, 'DEM', { colormap: 'gray', rescale: '0,1000' });
    const shaded = renderRaster(raster, 'DEM', { colormap: 'gray', rescale: '0,1000', hillshade: 'true' });
    const west = 4 * width + 5;
    const east = 4 * width + 15;
    expect(flat.data[west * 4]).toBe(flat.data[east * 4]);
    expect(shaded.data[west * 4]).toBeGreaterThan(shaded.data[east * 4] + 20);
    expect(renderRaster(raster, 'DEM', { colormap: 'gray', rescale: '0,1000', hillshade: 'false' }).data).toEqual(flat.data);
  });

  it('renders the real DEM chip with masked pixels transparent', async () => {
    const raster = await readExample('DEM');
    expectHolesTransparent(raster, () => renderRaster(raster, 'DEM', { hillshade: true }));
  });

  it('rejects an unknown colormap with a 400 listing none of our internals', () => {
    let error: unknown;
    try {
      renderRaster(rowRaster('DEM', [[1]]), 'DEM', { colormap: 'jet' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OgcError);
    expect((error as OgcError).status).toBe(400);
    // The parameter, what was wrong and the valid names: nothing of zod, our modules or a stack.
    expect((error as OgcError).detail).toBe(
      'Invalid rendering parameters for DEM: colormap: Invalid option: expected one of "rdylgn"|"brbg"|"brbg_r"|"terrain"|"viridis"|"gray"',
    );
  });
});

describe('parameter schemas', () => {
  it('exists for every modality, ignores unknown names and fills defaults', () => {
    for (const modality of MODALITY_IDS) expect(renderParamsSchema(modality)).toBeDefined();
    expect(parseRenderParams('S2L2A', { f: 'png', rescale: '1000,4000' })).toEqual({ rescale: [1000, 4000], gamma: 0.7 });
    expect(parseRenderParams('DEM', {})).toEqual({ colormap: 'terrain', hillshade: false });
    expect(parseRenderParams('NDVI', { rescale: [-0.5, 0.5] })).toEqual({ rescale: [-0.5, 0.5], colormap: 'rdylgn' });
  });
});

describe('encoders', () => {
  async function sample(): Promise<RgbaImage> {
    const raster = await readExample('LULC', '282D_485L_3_3');
    for (let i = 0; i < 224 * 20; i++) raster.mask[i] = 0; // transparent top band
    return renderRaster(raster, 'LULC');
  }

  it('PNG decodes back to exactly the same RGBA pixels', async () => {
    const image = await sample();
    const png = await encodeImage(image, 'png');
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const decoded = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(decoded.info).toMatchObject({ width: 224, height: 224, channels: 4 });
    expect(Buffer.from(decoded.data).equals(Buffer.from(image.data))).toBe(true);
  });

  it('WebP keeps alpha and the colours', async () => {
    const image = await sample();
    const webp = await encodeImage(image, 'webp');
    expect(Buffer.from(webp.subarray(8, 12)).toString('ascii')).toBe('WEBP');
    const { data, info } = await sharp(webp).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 224, height: 224, channels: 4 });
    let errorSum = 0;
    let samples = 0;
    let alphaMismatches = 0;
    for (let i = 0; i < 224 * 224; i++) {
      if (data[i * 4 + 3] !== image.data[i * 4 + 3]) alphaMismatches++;
      if (image.data[i * 4 + 3] === 0) continue;
      for (let c = 0; c < 3; c++) errorSum += Math.abs(data[i * 4 + c] - image.data[i * 4 + c]);
      samples += 3;
    }
    // Lossy (chroma is subsampled, so class edges blur), but on average the colours stay put.
    expect(alphaMismatches).toBe(0);
    expect(errorSum / samples).toBeLessThan(4);
  });

  it('JPEG has no alpha: transparent pixels come out black', async () => {
    const image = await sample();
    const jpeg = await encodeImage(image, 'jpeg');
    expect(Array.from(jpeg.subarray(0, 3))).toEqual([0xff, 0xd8, 0xff]);
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 224, height: 224, channels: 3 });
    expect(Math.max(...data.subarray(224 * 2 * 3, 224 * 16 * 3))).toBeLessThan(12);
  });

  it('refuses a buffer of the wrong size', async () => {
    await expect(encodeImage({ width: 4, height: 4, data: new Uint8Array(10) }, 'png')).rejects.toThrow(/RGBA bytes/);
  });
});

function correlation(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}
