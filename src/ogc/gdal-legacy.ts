import { bboxToTmsCrs, type Bbox, type TileMatrixLimits } from '../grid/tiles.js';
import type { TileMatrixSetEntry } from '../grid/tms.js';

/**
 * tileMatrixSetLimits that GDAL <= 3.7's OGCAPI driver (Debian 12, Ubuntu 22.04/24.04 and the QGIS built on
 * them) reads correctly. That driver builds its WMS window from the limits' first row but sizes it by the whole
 * matrix height, ignores minTileCol, and aborts opening ("Computed -srcwin ... 0 0") at a level where the
 * collection's extent is narrower than one pixel. Whole-matrix limits starting at the first level where the
 * extent spans a pixel in both axes avoid all three; they are still true limits (tiles there are 200, transparent
 * outside the data), so the official schemas accept them. Everyone else keeps the exact limits.
 */
export const MATRIX_LIMITS_PARAM = 'limits';
export const MATRIX_LIMITS_VALUE = 'matrix';

export function wholeMatrixLimits(tms: TileMatrixSetEntry, bbox: Bbox, exact: TileMatrixLimits[]): TileMatrixLimits[] {
  const [minX, minY, maxX, maxY] = bboxToTmsCrs(tms, bbox);
  const deepest = exact.at(-1)?.tileMatrix;
  // From the first exact level (0, or where a generated collection starts) to the deepest.
  const first = Math.max(0, tms.definition.tileMatrices.findIndex((m) => m.id === exact[0]?.tileMatrix));
  const matrices = tms.definition.tileMatrices.slice(first, tms.definition.tileMatrices.findIndex((m) => m.id === deepest) + 1);
  const spanning = matrices.filter((matrix) => (maxX - minX) / matrix.cellSize >= 1 && (maxY - minY) / matrix.cellSize >= 1);
  // Always list the deepest level, so a tiny extent still opens (at its finest level) rather than not at all.
  const levels = spanning.length > 0 ? spanning : matrices.slice(-1);
  return levels.map((matrix) => ({
    tileMatrix: matrix.id,
    minTileRow: 0,
    maxTileRow: matrix.matrixHeight - 1,
    minTileCol: 0,
    maxTileCol: matrix.matrixWidth - 1,
  }));
}
