import type { Modality } from '../modalities.js';

/**
 * Affine transform in rasterio / STAC `proj:transform` order:
 *   x = a*col + b*row + c,  y = d*col + e*row + f   (pixel corner coordinates, col/row may be fractional)
 */
export type Affine = readonly [a: number, b: number, c: number, d: number, e: number, f: number];

/** A pixel grid in some CRS: what a reader is asked to fill and what a raster lives on. */
export interface Grid {
  /** CRS as "EPSG:<code>" (the only form the service passes around). */
  crs: string;
  transform: Affine;
  width: number;
  height: number;
}

/**
 * The value that flows through every stage (rio-tiler's ImageData): readers produce it, the model takes and
 * returns it, renderers encode it. Bands are float32, row-major, one array per band.
 */
export interface Raster extends Grid {
  bands: Float32Array[];
  bandNames: string[];
  /** 255 where a pixel is valid in every band, 0 where it has no data (rio-tiler convention). */
  mask: Uint8Array;
  modality?: Modality;
}

export function createRaster(grid: Grid, bandNames: string[], modality?: Modality): Raster {
  const size = grid.width * grid.height;
  return {
    ...grid,
    bands: bandNames.map(() => new Float32Array(size)),
    bandNames,
    mask: new Uint8Array(size),
    modality,
  };
}

/** Pixel (col,row) -> map coordinates of that pixel's corner (use +0.5 for the centre). */
export function pixelToMap(transform: Affine, col: number, row: number): [number, number] {
  const [a, b, c, d, e, f] = transform;
  return [a * col + b * row + c, d * col + e * row + f];
}

/** Map coordinates -> fractional pixel (col,row); the inverse of pixelToMap. */
export function mapToPixel(transform: Affine, x: number, y: number): [number, number] {
  const [a, b, c, d, e, f] = transform;
  const det = a * e - b * d;
  const dx = x - c;
  const dy = y - f;
  return [(e * dx - b * dy) / det, (a * dy - d * dx) / det];
}

/** Bounds [minX, minY, maxX, maxY] of a grid in its own CRS. */
export function gridBounds(grid: Grid): [number, number, number, number] {
  const corners = [
    pixelToMap(grid.transform, 0, 0),
    pixelToMap(grid.transform, grid.width, 0),
    pixelToMap(grid.transform, 0, grid.height),
    pixelToMap(grid.transform, grid.width, grid.height),
  ];
  const xs = corners.map((p) => p[0]);
  const ys = corners.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
