import type { TileMatrixSet } from './tms.js';

/**
 * The TMS 1.0 JSON encoding (OGC 17-083r2) of a registered set, derived from its 2.0 definition. GDAL before
 * 3.8 (Debian 12's 3.6, and the QGIS built on it) parses only this encoding ("Invalid tiling matrix set name"
 * on 2.0), so tilesets offer it as their last tiling-scheme link (the one those versions keep); 2.0 stays canonical.
 */
export function tileMatrixSetV1(tms: TileMatrixSet): Record<string, unknown> {
  return {
    type: 'TileMatrixSetType',
    title: tms.title,
    identifier: tms.id,
    supportedCRS: tms.crs,
    wellKnownScaleSet: tms.wellKnownScaleSet,
    tileMatrix: tms.tileMatrices.map((matrix) => ({
      type: 'TileMatrixType',
      identifier: matrix.id,
      scaleDenominator: matrix.scaleDenominator,
      // 1.0 has no cornerOfOrigin: every registered set used here is top-left.
      topLeftCorner: matrix.pointOfOrigin,
      tileWidth: matrix.tileWidth,
      tileHeight: matrix.tileHeight,
      matrixWidth: matrix.matrixWidth,
      matrixHeight: matrix.matrixHeight,
    })),
  };
}
