import proj4 from 'proj4';
import type { Grid } from '../../src/raster/raster.js';

/** Half the width of the Web Mercator world, in metres. */
export const MERCATOR_HALF = 20037508.342789244;

/**
 * The WebMercatorQuad tile containing lon/lat at zoom z, as a 256x256 grid: an oracle written from the slippy-map
 * formulas, independent of src/grid.
 */
export function tileAt(z: number, lon: number, lat: number): Grid {
  const [mx, my] = proj4('EPSG:4326', 'EPSG:3857', [lon, lat]);
  const size = (2 * MERCATOR_HALF) / 2 ** z;
  const x = Math.floor((mx + MERCATOR_HALF) / size);
  const y = Math.floor((MERCATOR_HALF - my) / size);
  return {
    crs: 'EPSG:3857',
    width: 256,
    height: 256,
    transform: [size / 256, 0, -MERCATOR_HALF + x * size, 0, -size / 256, MERCATOR_HALF - y * size],
  };
}

/**
 * Row and column of the WebMercatorQuad tile containing lon/lat at zoom z: the slippy-map formulas, an oracle
 * independent of the TMS document and src/grid.
 */
export function slippyTile(lon: number, lat: number, z: number): [row: number, col: number] {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  const col = Math.floor(((lon + 180) / 360) * n);
  const row = Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n);
  return [row, col];
}
