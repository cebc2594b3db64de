import { z } from 'zod';
import { badRequest } from '../errors.js';
import { LULC_CLASSES, MODALITIES, type Modality } from '../modalities.js';
import type { Raster } from '../raster/raster.js';
import { colormapLut, hexToRgb } from './colormaps.js';
import { hillshade } from './hillshade.js';
import { colormapParam, flagParam, gammaParam, rescaleParam } from './params.js';
import type { RgbaImage } from './types.js';

/**
 * One renderer per modality: a zod schema for its parameters and a pure function Raster -> RGBA.
 * Pixels whose mask is 0 or whose needed values are not finite come out fully transparent.
 * Output bytes depend only on (raster, params): bump RENDER_VERSION in cache/keys.ts when that mapping changes.
 */
export interface Renderer<S extends z.ZodType = z.ZodType> {
  /** One line for API documentation. */
  description: string;
  params: S;
  render(raster: Raster, params: z.output<S>): RgbaImage;
}

function defineRenderer<S extends z.ZodType>(renderer: Renderer<S>): Renderer<S> {
  return renderer;
}

/** Finds a band by name (case-insensitive, aliases allowed), else by the modality's band order when the count matches. */
function band(raster: Raster, modality: Modality, names: string[]): Float32Array {
  const wanted = names.map((n) => n.toLowerCase());
  const byName = raster.bandNames.findIndex((n) => wanted.includes(n.toLowerCase()));
  if (byName >= 0) return raster.bands[byName];
  const order = MODALITIES[modality].bands;
  const position = order.findIndex((n) => wanted.includes(n.toLowerCase()));
  if (position >= 0 && raster.bands.length === order.length) return raster.bands[position];
  throw badRequest(`Rendering ${modality} needs band ${names[0]}, but the data has bands [${raster.bandNames.join(', ')}]`);
}

function newImage(raster: Raster): RgbaImage {
  return { width: raster.width, height: raster.height, data: new Uint8Array(raster.width * raster.height * 4) };
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
const to8 = (v: number) => Math.round(clamp01(v) * 255);

/** Linear stretch of one value onto 0..1 then gamma, as an 8-bit level. */
function stretchLut(min: number, max: number, gamma: number) {
  const scale = 1 / (max - min);
  return (value: number) => Math.round(Math.pow(clamp01((value - min) * scale), gamma) * 255);
}

/** Single band through a 256-colour ramp. */
function renderRamp(raster: Raster, values: Float32Array, [min, max]: readonly [number, number], lut: Uint8Array): RgbaImage {
  const image = newImage(raster);
  const out = image.data;
  const scale = 255 / (max - min);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (raster.mask[i] === 0 || !Number.isFinite(v)) continue;
    const level = Math.round((v - min) * scale);
    const index = (level < 0 ? 0 : level > 255 ? 255 : level) * 3;
    const o = i * 4;
    out[o] = lut[index];
    out[o + 1] = lut[index + 1];
    out[o + 2] = lut[index + 2];
    out[o + 3] = 255;
  }
  return image;
}

/** Three bands, each stretched the same way. */
function renderRgb(raster: Raster, [r, g, b]: Float32Array[], level: (v: number) => number): RgbaImage {
  const image = newImage(raster);
  const out = image.data;
  for (let i = 0; i < r.length; i++) {
    const vr = r[i];
    const vg = g[i];
    const vb = b[i];
    if (raster.mask[i] === 0 || !Number.isFinite(vr) || !Number.isFinite(vg) || !Number.isFinite(vb)) continue;
    const o = i * 4;
    out[o] = level(vr);
    out[o + 1] = level(vg);
    out[o + 2] = level(vb);
    out[o + 3] = 255;
  }
  return image;
}

/**
 * Sentinel-2 reflectance in the processing-baseline >= 04.00 DN convention (reflectance = (DN-1000)/10000).
 * Default stretch: reflectance 0..0.3 (DN 1000..4000) with gamma 0.7, which brightens the usually dark land surface.
 */
const sentinel2Params = z.object({
  rescale: rescaleParam.default([1000, 4000]).describe('DN range mapped to 0-255, "min,max" (default 1000,4000 = reflectance 0-0.3)'),
  gamma: gammaParam.default(0.7).describe('gamma applied after the stretch (<1 brightens)'),
});
const sentinel2 = (modality: Modality) =>
  defineRenderer({
    description: 'True colour from B04, B03, B02 with a linear stretch and gamma',
    params: sentinel2Params,
    render(raster, params) {
      const rgb = [band(raster, modality, ['B04', 'red']), band(raster, modality, ['B03', 'green']), band(raster, modality, ['B02', 'blue'])];
      return renderRgb(raster, rgb, stretchLut(params.rescale[0], params.rescale[1], params.gamma));
    },
  });

/** 8-bit true colour shown as is (optionally rescaled). */
const s2rgb = defineRenderer({
  description: '8-bit true colour shown as is',
  params: z.object({ rescale: rescaleParam.optional().describe('value range mapped to 0-255 (default: none, values are 0-255)') }),
  render(raster, params) {
    const rgb = [band(raster, 'S2RGB', ['red', 'B04']), band(raster, 'S2RGB', ['green', 'B03']), band(raster, 'S2RGB', ['blue', 'B02'])];
    const level = params.rescale ? stretchLut(params.rescale[0], params.rescale[1], 1) : (v: number) => Math.round(v < 0 ? 0 : v > 255 ? 255 : v);
    return renderRgb(raster, rgb, level);
  },
});

/** Sentinel-1 VV/VH in dB as the TerraMind notebooks show it: R=(VV+30)/40, G=(VH+40)/40, B=VV/clip(VH,-40,-1)/1.5. */
const sentinel1 = (modality: Modality) =>
  defineRenderer({
    description: 'False colour from VV and VH backscatter in dB (R=(VV+30)/40, G=(VH+40)/40, B=VV/VH/1.5)',
    params: z.object({}),
    render(raster) {
      const vv = band(raster, modality, ['vv']);
      const vh = band(raster, modality, ['vh']);
      const image = newImage(raster);
      const out = image.data;
      for (let i = 0; i < vv.length; i++) {
        const v = vv[i];
        const h = vh[i];
        if (raster.mask[i] === 0 || !Number.isFinite(v) || !Number.isFinite(h)) continue;
        const o = i * 4;
        out[o] = to8((v + 30) / 40);
        out[o + 1] = to8((h + 40) / 40);
        out[o + 2] = to8(v / Math.min(-1, Math.max(-40, h)) / 1.5);
        out[o + 3] = 255;
      }
      return image;
    },
  });

/** Range of valid values, widened by `pad` (the TerraMind notebooks pad DEM plots by 5 m). */
function validRange(raster: Raster, values: Float32Array, pad: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (raster.mask[i] === 0 || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? [min - pad, max + pad] : [0, 1];
}

const dem = defineRenderer({
  description: 'Elevation through a colour ramp, optionally hill-shaded',
  params: z.object({
    colormap: colormapParam.default('terrain').describe('colour ramp (brbg_r is the TerraMind notebooks\' choice)'),
    rescale: rescaleParam.optional().describe('elevation range in metres, "min,max" (default: this raster\'s min-5 .. max+5)'),
    hillshade: flagParam.default(false).describe('shade the ramp by slope and aspect (sun at azimuth 315, altitude 45)'),
  }),
  render(raster, params) {
    const values = band(raster, 'DEM', ['elevation', 'dem', 'data']);
    const range = params.rescale ?? validRange(raster, values, 5);
    const image = renderRamp(raster, values, range, colormapLut(params.colormap));
    if (params.hillshade) {
      const shade = hillshade(raster, values);
      const out = image.data;
      for (let i = 0; i < shade.length; i++) {
        const o = i * 4;
        if (out[o + 3] === 0) continue;
        // Keep 40% ambient light so shaded slopes keep their colour.
        const k = 0.4 + 0.6 * shade[i];
        out[o] = Math.round(out[o] * k);
        out[o + 1] = Math.round(out[o + 1] * k);
        out[o + 2] = Math.round(out[o + 2] * k);
      }
    }
    return image;
  },
});

const LULC_RGB = LULC_CLASSES.map((c) => hexToRgb(c.color));

/** Class index -> TerraMind palette colour. Class 0 ("No data") and values outside -0.5..9.5 are transparent. */
const lulc = defineRenderer({
  description: 'Land-cover classes in the TerraMind palette (class 0 = no data is transparent)',
  params: z.object({}),
  render(raster) {
    const classes = band(raster, 'LULC', ['class', 'lulc']);
    const image = newImage(raster);
    const out = image.data;
    for (let i = 0; i < classes.length; i++) {
      const v = classes[i];
      if (raster.mask[i] === 0 || !Number.isFinite(v)) continue;
      const index = Math.round(v);
      if (index <= 0 || index >= LULC_RGB.length) continue;
      const [r, g, b] = LULC_RGB[index];
      const o = i * 4;
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
      out[o + 3] = 255;
    }
    return image;
  },
});

const ndvi = defineRenderer({
  description: 'NDVI on a diverging red-yellow-green ramp over [-1, 1]',
  params: z.object({
    rescale: rescaleParam.default([-1, 1]).describe('NDVI range mapped onto the ramp (default -1,1)'),
    colormap: colormapParam.default('rdylgn'),
  }),
  render(raster, params) {
    return renderRamp(raster, band(raster, 'NDVI', ['ndvi']), params.rescale, colormapLut(params.colormap));
  },
});

export const RENDERERS: Record<Modality, Renderer> = {
  S2L2A: sentinel2('S2L2A'),
  S2L1C: sentinel2('S2L1C'),
  S2RGB: s2rgb,
  S1GRD: sentinel1('S1GRD'),
  S1RTC: sentinel1('S1RTC'),
  DEM: dem,
  LULC: lulc,
  NDVI: ndvi,
};
