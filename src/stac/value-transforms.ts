import type { ValueTransform } from './types.js';

/**
 * The non-affine conversions a BandSource may ask for after `stored * scale + offset`. They live here, beside
 * the STAC mapping that decides them, so the raster reader applies them without knowing providers.
 */

/** ESRI / Impact Observatory 9-class land cover code -> TerraMind LULC index (src/modalities.ts LULC_CLASSES). */
export const ESRI_LULC_TO_TERRAMIND: Readonly<Record<number, number>> = {
  1: 1, // water
  2: 2, // trees
  4: 3, // flooded vegetation
  5: 4, // crops
  7: 5, // built area
  8: 6, // bare ground
  9: 7, // snow/ice
  10: 8, // clouds
  11: 9, // rangeland
};

/**
 * Applies `kind` in place to values that already had scale/offset applied. Pixels the transform cannot
 * represent are cleared in `mask` (255 valid, 0 no data) when a mask is given.
 */
export function applyValueTransform(kind: ValueTransform, values: Float32Array, mask?: Uint8Array): void {
  if (kind === 'linear-to-db') {
    for (let i = 0; i < values.length; i += 1) {
      const v = values[i]!;
      if (v > 0 && Number.isFinite(v)) values[i] = 10 * Math.log10(v);
      else {
        values[i] = Number.NaN; // log of zero/negative power has no dB value
        if (mask) mask[i] = 0;
      }
    }
    return;
  }
  for (let i = 0; i < values.length; i += 1) {
    const index = ESRI_LULC_TO_TERRAMIND[values[i]!] ?? 0;
    values[i] = index;
    if (index === 0 && mask) mask[i] = 0;
  }
}
