import { LRUCache } from 'lru-cache';
import { badRequest, notFound } from '../errors.js';
import type { Grid } from '../raster/raster.js';
import { findTileMatrix, type TileMatrix, type TileMatrixSetEntry } from './tms.js';

/**
 * Tile addressing on a registered tile matrix set: the footprint of one tile as a pixel `Grid`, the
 * tileMatrixSetLimits that cover a CRS84 bbox, and validation of a requested tile against both.
 */
export type Bbox = [west: number, south: number, east: number, north: number];

export interface TileMatrixLimits {
  tileMatrix: string;
  minTileRow: number;
  maxTileRow: number;
  minTileCol: number;
  maxTileCol: number;
}

const EARTH_RADIUS = 6378137;
/** Latitude where WebMercatorQuad's square world ends. */
const MAX_MERCATOR_LAT = 85.0511287798066;

/** A latitude limited to WebMercatorQuad's square world. */
export function clampMercatorLat(lat: number): number {
  return Math.max(-MAX_MERCATOR_LAT, Math.min(MAX_MERCATOR_LAT, lat));
}

/** CRS84 lon/lat -> EPSG:3857 metres (spherical Mercator; exact for the tile grid). */
export function lonLatToMercator(lon: number, lat: number): [number, number] {
  const clamped = clampMercatorLat(lat);
  const x = (EARTH_RADIUS * lon * Math.PI) / 180;
  const y = EARTH_RADIUS * Math.log(Math.tan(Math.PI / 4 + (clamped * Math.PI) / 360));
  return [x, y];
}

export function mercatorToLonLat(x: number, y: number): [number, number] {
  const lon = (x / EARTH_RADIUS) * (180 / Math.PI);
  const lat = (2 * Math.atan(Math.exp(y / EARTH_RADIUS)) - Math.PI / 2) * (180 / Math.PI);
  return [lon, lat];
}

/** A CRS84 bbox in the TMS's CRS, axis order x/y (both registered sets are x/y ordered). */
export function bboxToTmsCrs(entry: TileMatrixSetEntry, bbox: Bbox): Bbox {
  if (entry.gridCrs === 'EPSG:4326') return bbox;
  const [minX, minY] = lonLatToMercator(bbox[0], bbox[1]);
  const [maxX, maxY] = lonLatToMercator(bbox[2], bbox[3]);
  return [minX, minY, maxX, maxY];
}

/** Bounds [minX, minY, maxX, maxY] of one tile in the TMS CRS. */
export function tileBounds(matrix: TileMatrix, tileRow: number, tileCol: number): Bbox {
  const spanX = matrix.cellSize * matrix.tileWidth;
  const spanY = matrix.cellSize * matrix.tileHeight;
  const [ox, oy] = matrix.pointOfOrigin;
  const minX = ox + tileCol * spanX;
  if (matrix.cornerOfOrigin === 'bottomLeft') {
    const minY = oy + tileRow * spanY;
    return [minX, minY, minX + spanX, minY + spanY];
  }
  const maxY = oy - tileRow * spanY;
  return [minX, maxY - spanY, minX + spanX, maxY];
}

/** The pixel grid of one tile (north-up, tileWidth x tileHeight) that a reader is asked to fill. */
export function tileGrid(entry: TileMatrixSetEntry, matrix: TileMatrix, tileRow: number, tileCol: number): Grid {
  const [minX, , , maxY] = tileBounds(matrix, tileRow, tileCol);
  return {
    crs: entry.gridCrs,
    transform: [matrix.cellSize, 0, minX, 0, -matrix.cellSize, maxY],
    width: matrix.tileWidth,
    height: matrix.tileHeight,
  };
}

/** The tile row/col range of one matrix that intersects a bbox given in the TMS CRS (clamped to the matrix). */
export function matrixLimits(matrix: TileMatrix, bbox: Bbox): TileMatrixLimits {
  const spanX = matrix.cellSize * matrix.tileWidth;
  const spanY = matrix.cellSize * matrix.tileHeight;
  const [ox, oy] = matrix.pointOfOrigin;
  // A bbox edge that falls exactly on a tile edge must not pull in the neighbour tile.
  const eps = 1e-9;
  const clampCol = (value: number) => Math.max(0, Math.min(matrix.matrixWidth - 1, value));
  const clampRow = (value: number) => Math.max(0, Math.min(matrix.matrixHeight - 1, value));
  const minTileCol = clampCol(Math.floor((bbox[0] - ox) / spanX + eps));
  const maxTileCol = clampCol(Math.floor((bbox[2] - ox) / spanX - eps));
  let minTileRow: number;
  let maxTileRow: number;
  if (matrix.cornerOfOrigin === 'bottomLeft') {
    minTileRow = clampRow(Math.floor((bbox[1] - oy) / spanY + eps));
    maxTileRow = clampRow(Math.floor((bbox[3] - oy) / spanY - eps));
  } else {
    minTileRow = clampRow(Math.floor((oy - bbox[3]) / spanY + eps));
    maxTileRow = clampRow(Math.floor((oy - bbox[1]) / spanY - eps));
  }
  return {
    tileMatrix: matrix.id,
    minTileRow,
    maxTileRow: Math.max(minTileRow, maxTileRow),
    minTileCol,
    maxTileCol: Math.max(minTileCol, maxTileCol),
  };
}

/** Limits computed so far, per set: every tile request checks against them, and a collection's bbox is stable. */
const limitsMemo = new WeakMap<TileMatrixSetEntry, LRUCache<string, TileMatrixLimits[]>>();

/**
 * tileMatrixSetLimits for a CRS84 bbox from level `minZoom` (default the set's first) up to `maxZoom` (indices
 * into tileMatrices). Contiguous: OpenLayers builds its zoom levels from this list and breaks on gaps.
 * Remembered per set, bbox and zoom range (a cache hit otherwise spent 4 % of its time here); the result is
 * frozen, as it is shared.
 */
export function tileMatrixSetLimits(entry: TileMatrixSetEntry, bbox: Bbox, maxZoom: number, minZoom = 0): TileMatrixLimits[] {
  let memo = limitsMemo.get(entry);
  if (!memo) {
    memo = new LRUCache({ max: 1024 });
    limitsMemo.set(entry, memo);
  }
  const key = `${minZoom} ${maxZoom} ${bbox.join(' ')}`;
  let limits = memo.get(key);
  if (!limits) {
    const projected = bboxToTmsCrs(entry, bbox);
    const last = Math.min(maxZoom, entry.definition.tileMatrices.length - 1);
    const levels = entry.definition.tileMatrices.slice(Math.min(minZoom, last), last + 1);
    limits = Object.freeze(levels.map((matrix) => Object.freeze(matrixLimits(matrix, projected)))) as TileMatrixLimits[];
    memo.set(key, limits);
  }
  return limits;
}

/** Path values arrive as strings; only plain non-negative decimal integers are tile indices. */
export function parseTileIndex(name: 'tileMatrix' | 'tileRow' | 'tileCol', value: string): number {
  if (!/^\d{1,10}$/.test(value)) {
    throw badRequest(`${name} must be a non-negative integer, got '${value}'.`);
  }
  return Number(value);
}

/**
 * Checks a tile against the matrix and the collection's limits; returns the matrix. Malformed values are 400,
 * well-formed tiles outside the matrix or the limits are 404 (the Tiles ETS accepts either; GDAL and
 * OpenLayers never ask for tiles outside the advertised limits).
 */
export function resolveTile(
  entry: TileMatrixSetEntry,
  address: { tileMatrix: string; tileRow: string; tileCol: string },
  limits?: TileMatrixLimits[],
): { matrix: TileMatrix; tileRow: number; tileCol: number } {
  parseTileIndex('tileMatrix', address.tileMatrix);
  const tileRow = parseTileIndex('tileRow', address.tileRow);
  const tileCol = parseTileIndex('tileCol', address.tileCol);
  const matrix = findTileMatrix(entry.definition, String(Number(address.tileMatrix)));
  if (!matrix) {
    const ids = entry.definition.tileMatrices.map((m) => m.id);
    throw notFound(`Tile matrix '${address.tileMatrix}' is not in ${entry.definition.id} (levels ${ids[0]}..${ids.at(-1)}).`);
  }
  if (tileRow >= matrix.matrixHeight || tileCol >= matrix.matrixWidth) {
    throw notFound(
      `Tile ${matrix.id}/${tileRow}/${tileCol} is outside the matrix (${matrix.matrixHeight} rows x ${matrix.matrixWidth} cols).`,
    );
  }
  if (limits) {
    const limit = limits.find((l) => l.tileMatrix === matrix.id);
    if (!limit) {
      throw notFound(`Tile matrix ${matrix.id} is not available for this collection (levels ${limits[0]?.tileMatrix}..${limits.at(-1)?.tileMatrix}).`);
    }
    if (tileRow < limit.minTileRow || tileRow > limit.maxTileRow || tileCol < limit.minTileCol || tileCol > limit.maxTileCol) {
      throw notFound(
        `Tile ${matrix.id}/${tileRow}/${tileCol} is outside this collection's limits (rows ${limit.minTileRow}..${limit.maxTileRow}, cols ${limit.minTileCol}..${limit.maxTileCol}).`,
      );
    }
  }
  return { matrix, tileRow, tileCol };
}
