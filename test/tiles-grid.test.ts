import { describe, expect, it } from 'vitest';
import { OgcError } from '../src/errors.js';
import {
  lonLatToMercator,
  matrixLimits,
  mercatorToLonLat,
  resolveTile,
  tileBounds,
  tileGrid,
  tileMatrixSetLimits,
} from '../src/grid/tiles.js';
import { getTileMatrixSet, listTileMatrixSets } from '../src/grid/tms.js';
import { tileMatrixSetV1 } from '../src/grid/tms10.js';
import { readFileSync } from 'node:fs';
import { slippyTile } from './helpers/tiles.js';

const webMercator = getTileMatrixSet('WebMercatorQuad');
const crs84 = getTileMatrixSet('WorldCRS84Quad');
const HALF = 20037508.3427892;

function errorOf(fn: () => unknown): OgcError {
  try {
    fn();
  } catch (error) {
    if (error instanceof OgcError) return error;
    throw error;
  }
  throw new Error('expected an OgcError');
}

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof OgcError) return error.status;
    throw error;
  }
  return undefined;
}

describe('tile matrix sets', () => {
  it('serves the registry files byte for byte', () => {
    for (const entry of listTileMatrixSets()) {
      const registry = readFileSync(new URL(`../src/grid/tms/${entry.definition.id}.json`, import.meta.url), 'utf8');
      expect(entry.json).toBe(registry);
    }
    expect(webMercator.definition.tileMatrices).toHaveLength(25);
    expect(crs84.definition.tileMatrices).toHaveLength(24);
    expect(webMercator.gridCrs).toBe('EPSG:3857');
    expect(crs84.gridCrs).toBe('EPSG:4326');
  });

  it('rejects an unknown set with a 404 naming the sets there are', () => {
    const error = errorOf(() => getTileMatrixSet('webmercatorquad'));
    expect(error.status).toBe(404);
    expect(error.detail).toBe("Unknown tile matrix set 'webmercatorquad'. Available: WebMercatorQuad, WorldCRS84Quad.");
    expect(listTileMatrixSets().map((entry) => entry.definition.id)).toEqual(['WebMercatorQuad', 'WorldCRS84Quad']);
  });

  it('derives a TMS 1.0 encoding with the same matrices', () => {
    const v1 = tileMatrixSetV1(crs84.definition) as { identifier: string; supportedCRS: string; tileMatrix: { identifier: string; topLeftCorner: number[]; matrixWidth: number }[] };
    expect(v1.identifier).toBe('WorldCRS84Quad');
    expect(v1.supportedCRS).toBe('http://www.opengis.net/def/crs/OGC/1.3/CRS84');
    expect(v1.tileMatrix).toHaveLength(24);
    expect(v1.tileMatrix[3]).toMatchObject({ identifier: '3', topLeftCorner: [-180, 90], matrixWidth: 16 });
    // OGC 17-083r2's JSON type names, which GDAL < 3.8 looks for.
    expect((v1 as unknown as { type: string }).type).toBe('TileMatrixSetType');
    expect((v1.tileMatrix[0] as unknown as { type: string }).type).toBe('TileMatrixType');
  });
});

describe('tile footprints', () => {
  it('WebMercatorQuad 0/0/0 covers the square world', () => {
    const bounds = tileBounds(webMercator.definition.tileMatrices[0], 0, 0);
    bounds.forEach((value, i) => expect(value).toBeCloseTo([-HALF, -HALF, HALF, HALF][i], 3));
  });

  it('WebMercatorQuad tile grid is 256 px in EPSG:3857 with the top-left corner as origin', () => {
    const matrix = webMercator.definition.tileMatrices[14];
    const grid = tileGrid(webMercator, matrix, 5744, 9170);
    expect(grid).toMatchObject({ crs: 'EPSG:3857', width: 256, height: 256 });
    const [a, b, c, d, e, f] = grid.transform;
    expect([b, d]).toEqual([0, 0]);
    expect(a).toBeCloseTo(156543.033928041 / 2 ** 14, 9);
    expect(e).toBeCloseTo(-a, 12);
    expect(c).toBeCloseTo(-HALF + 9170 * a * 256, 4);
    expect(f).toBeCloseTo(HALF - 5744 * a * 256, 4);
  });

  it('WorldCRS84Quad is lon/lat (EPSG:4326 in x=lon order) with 2x1 tiles at level 0', () => {
    expect(crs84.definition.tileMatrices[0]).toMatchObject({ matrixWidth: 2, matrixHeight: 1 });
    const grid = tileGrid(crs84, crs84.definition.tileMatrices[1], 0, 3);
    expect(grid.crs).toBe('EPSG:4326');
    expect(grid.transform).toEqual([0.3515625, 0, 90, 0, -0.3515625, 90]);
    expect(tileBounds(crs84.definition.tileMatrices[1], 1, 0)).toEqual([-180, -90, -90, 0]);
  });

  it('bottom-left corner of origin counts rows upwards', () => {
    const matrix = { ...crs84.definition.tileMatrices[1], cornerOfOrigin: 'bottomLeft' as const, pointOfOrigin: [-180, -90] as [number, number] };
    expect(tileBounds(matrix, 0, 0)).toEqual([-180, -90, -90, 0]);
    expect(tileBounds(matrix, 1, 2)).toEqual([0, 0, 90, 90]);
  });

  it('mercator conversions round-trip', () => {
    const [x, y] = lonLatToMercator(23.7, 32.0);
    const [lon, lat] = mercatorToLonLat(x, y);
    expect(lon).toBeCloseTo(23.7, 10);
    expect(lat).toBeCloseTo(32.0, 10);
    expect(lonLatToMercator(180, 0)[0]).toBeCloseTo(HALF, 3);
  });
});

describe('tileMatrixSetLimits', () => {
  const bbox: [number, number, number, number] = [23.106, 31.505, 24.296, 32.519];

  it('match the slippy-map tiles of the bbox corners on WebMercatorQuad', () => {
    const limits = tileMatrixSetLimits(webMercator, bbox, 14);
    expect(limits.map((l) => l.tileMatrix)).toEqual(Array.from({ length: 15 }, (_, i) => String(i)));
    for (const z of [0, 5, 10, 14]) {
      const [minRow, minCol] = slippyTile(bbox[0], bbox[3], z);
      const [maxRow, maxCol] = slippyTile(bbox[2], bbox[1], z);
      expect(limits[z]).toEqual({ tileMatrix: String(z), minTileRow: minRow, maxTileRow: maxRow, minTileCol: minCol, maxTileCol: maxCol });
    }
  });

  it('on WorldCRS84Quad use degrees directly', () => {
    const limits = tileMatrixSetLimits(crs84, bbox, 5);
    // level 5: 0.703125/32 * 256 = 5.625 degrees per tile
    expect(limits[5]).toEqual({
      tileMatrix: '5',
      minTileCol: Math.floor((bbox[0] + 180) / 5.625),
      maxTileCol: Math.floor((bbox[2] + 180) / 5.625),
      minTileRow: Math.floor((90 - bbox[3]) / 5.625),
      maxTileRow: Math.floor((90 - bbox[1]) / 5.625),
    });
    expect(limits[0]).toEqual({ tileMatrix: '0', minTileRow: 0, maxTileRow: 0, minTileCol: 1, maxTileCol: 1 });
  });

  it('do not pull in a neighbour when the bbox ends on a tile edge', () => {
    const limits = tileMatrixSetLimits(crs84, [0, 0, 90, 90], 1);
    expect(limits[1]).toEqual({ tileMatrix: '1', minTileRow: 0, maxTileRow: 0, minTileCol: 2, maxTileCol: 2 });
    // North edge on the row 0/1 boundary: the first row is 1, not 0.
    expect(tileMatrixSetLimits(crs84, [0, -90, 90, 0], 1)[1]).toEqual({ tileMatrix: '1', minTileRow: 1, maxTileRow: 1, minTileCol: 2, maxTileCol: 2 });
  });

  it('clamp a bbox larger than the world to the last row and column', () => {
    expect(tileMatrixSetLimits(crs84, [-200, -100, 200, 100], 1)[1]).toEqual({ tileMatrix: '1', minTileRow: 0, maxTileRow: 1, minTileCol: 0, maxTileCol: 3 });
  });

  it('count rows upwards from a bottom-left origin', () => {
    const matrix = { ...crs84.definition.tileMatrices[1], cornerOfOrigin: 'bottomLeft' as const, pointOfOrigin: [-180, -90] as [number, number] };
    // 90-degree tiles: row 0 is -90..0, row 1 is 0..90; edges on tile boundaries pull in no neighbour.
    expect(matrixLimits(matrix, [0, 0, 90, 90])).toEqual({ tileMatrix: '1', minTileRow: 1, maxTileRow: 1, minTileCol: 2, maxTileCol: 2 });
    expect(matrixLimits(matrix, [-100, -80, -10, -5])).toEqual({ tileMatrix: '1', minTileRow: 0, maxTileRow: 0, minTileCol: 0, maxTileCol: 1 });
    expect(matrixLimits(matrix, [-100, -80, -10, 0])).toEqual({ tileMatrix: '1', minTileRow: 0, maxTileRow: 0, minTileCol: 0, maxTileCol: 1 });
    expect(matrixLimits(matrix, [-100, -80, -10, 45])).toEqual({ tileMatrix: '1', minTileRow: 0, maxTileRow: 1, minTileCol: 0, maxTileCol: 1 });
    expect(matrixLimits(matrix, [-200, -100, 200, 100])).toEqual({ tileMatrix: '1', minTileRow: 0, maxTileRow: 1, minTileCol: 0, maxTileCol: 3 });
  });

  it('are remembered per bbox: two bboxes whose numbers run together alike get their own limits', () => {
    // "1 23 45 67" and "12 3 45 67" are the same digits: a memo key that joined them without a separator mixed them up.
    const a = tileMatrixSetLimits(crs84, [1, 23, 45, 67], 3)[3];
    const b = tileMatrixSetLimits(crs84, [12, 3, 45, 67], 3)[3];
    // Level 3: 22.5-degree tiles, columns from -180, rows from 90; east 45 ends on a column edge. South 23 is in
    // row 2 ((90 - 23) / 22.5 = 2.98), south 3 in row 3 (3.87).
    expect(a).toEqual({ tileMatrix: '3', minTileCol: 8, maxTileCol: 9, minTileRow: 1, maxTileRow: 2 });
    expect(b).toEqual({ tileMatrix: '3', minTileCol: 8, maxTileCol: 9, minTileRow: 1, maxTileRow: 3 });
  });

  it('clamp to the matrix for a world bbox and stop at the last level of the set', () => {
    const limits = tileMatrixSetLimits(webMercator, [-180, -90, 180, 90], 40);
    expect(limits).toHaveLength(25);
    expect(limits[3]).toEqual({ tileMatrix: '3', minTileRow: 0, maxTileRow: 7, minTileCol: 0, maxTileCol: 7 });
  });
});

describe('tile validation', () => {
  const limits = tileMatrixSetLimits(webMercator, [23.106, 31.505, 24.296, 32.519], 14);
  const tile = (tileMatrix: string, tileRow: string, tileCol: string) => () => resolveTile(webMercator, { tileMatrix, tileRow, tileCol }, limits);

  it('accepts a tile inside the limits', () => {
    const [row, col] = slippyTile(23.7, 32.0, 12);
    const resolved = resolveTile(webMercator, { tileMatrix: '12', tileRow: String(row), tileCol: String(col) }, limits);
    expect(resolved).toMatchObject({ tileRow: row, tileCol: col });
    expect(resolved.matrix.id).toBe('12');
  });

  it.each([
    ['negative row', '12', '-1', '5', 400],
    ['fractional col', '12', '1', '2.5', 400],
    ['letters in the matrix id', 'z12', '1', '1', 400],
    ['huge index', '12', '99999999999', '1', 400],
    ['level beyond the set', '25', '0', '0', 404],
    ['level beyond the collection', '15', '0', '0', 404],
    ['row outside the matrix', '2', '4', '0', 404],
    ['ETS max int', '12', '2147483647', '2147483647', 404],
    ['row outside the limits', '12', '0', '0', 404],
  ])('%s -> %i', (_name, z, row, col, status) => {
    expect(statusOf(tile(z, row, col))).toBe(status);
  });

  it('names the matrix size for the first row and column past its edge (row = matrixHeight, col = matrixWidth)', () => {
    // Level 2 of WebMercatorQuad is 4x4 tiles: rows and columns 0..3.
    const outside = 'is outside the matrix (4 rows x 4 cols).';
    for (const withLimits of [undefined, tileMatrixSetLimits(webMercator, [-180, -85, 180, 85], 5)]) {
      const resolve = (row: string, col: string) => () => resolveTile(webMercator, { tileMatrix: '2', tileRow: row, tileCol: col }, withLimits);
      expect(resolveTile(webMercator, { tileMatrix: '2', tileRow: '3', tileCol: '3' }, withLimits)).toMatchObject({ tileRow: 3, tileCol: 3 });
      for (const [row, col] of [['4', '0'], ['0', '4'], ['4', '4'], ['5', '3']]) {
        const error = errorOf(resolve(row, col));
        expect(error.status).toBe(404);
        expect(error.detail).toBe(`Tile 2/${row}/${col} ${outside}`);
      }
    }
  });

  it('checks each side of the limits on its own, and takes tiles on the limits', () => {
    const limit = limits[12]!;
    const midRow = Math.floor((limit.minTileRow + limit.maxTileRow) / 2);
    const midCol = Math.floor((limit.minTileCol + limit.maxTileCol) / 2);
    for (const [row, col] of [
      [limit.minTileRow - 1, midCol],
      [limit.maxTileRow + 1, midCol],
      [midRow, limit.minTileCol - 1],
      [midRow, limit.maxTileCol + 1],
    ]) {
      expect(statusOf(tile('12', String(row), String(col))), `${row}/${col}`).toBe(404);
    }
    for (const [row, col] of [
      [limit.minTileRow, limit.minTileCol],
      [limit.maxTileRow, limit.maxTileCol],
    ]) {
      expect(resolveTile(webMercator, { tileMatrix: '12', tileRow: String(row), tileCol: String(col) }, limits)).toMatchObject({ tileRow: row, tileCol: col });
    }
  });

  it('a collection without limits has no levels: every tile is a 404', () => {
    expect(statusOf(() => resolveTile(webMercator, { tileMatrix: '3', tileRow: '0', tileCol: '0' }, []))).toBe(404);
  });

  it('names the limits for a tile inside the matrix but outside the collection', () => {
    const [row, col] = slippyTile(23.7, 32.0, 12);
    const limit = limits[12]!;
    const error = errorOf(tile('12', String(limit.maxTileRow + 1), String(col)));
    expect(error.status).toBe(404);
    expect(error.detail).toBe(
      `Tile 12/${limit.maxTileRow + 1}/${col} is outside this collection's limits (rows ${limit.minTileRow}..${limit.maxTileRow}, cols ${limit.minTileCol}..${limit.maxTileCol}).`,
    );
    expect(errorOf(tile('15', String(row), String(col))).detail).toBe('Tile matrix 15 is not available for this collection (levels 0..14).');
    expect(errorOf(tile('25', '0', '0')).detail).toBe("Tile matrix '25' is not in WebMercatorQuad (levels 0..24).");
    expect(errorOf(tile('12', '-1', '5')).detail).toBe("tileRow must be a non-negative integer, got '-1'.");
    expect(errorOf(tile('12', '1', '2.5')).detail).toBe("tileCol must be a non-negative integer, got '2.5'.");
    expect(errorOf(tile('z12', '1', '1')).detail).toBe("tileMatrix must be a non-negative integer, got 'z12'.");
  });
});
