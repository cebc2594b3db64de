import { chipsPerAxis, LATTICE_RESOLUTION } from '../generation/lattice.js';
import type { Bbox } from '../grid/tiles.js';
import type { TileMatrixSetEntry } from '../grid/tms.js';

/**
 * The first tile matrix at which a generated collection is served: the coarsest level where one tile, placed
 * anywhere on the chip lattice and anywhere in the collection's footprint, needs at most `maxChips` chips. The
 * bound uses the tile's ground size at the footprint's latitude closest to the equator (where tiles are
 * largest), so no tile of a served level can need more; finer levels only resample the same chips.
 */
const METRES_PER_DEGREE = 111_320;
/** Lattice pixels added to a tile's span for the resampling kernel at its edges. */
const KERNEL_MARGIN = 4;

export interface GenerationZoom {
  zoom: number;
  /** Most chips a tile of `level` can need. */
  chipsAt(level: number): number;
}

export function generationZoom(tms: TileMatrixSetEntry, bounds: Bbox, maxChips: number): GenerationZoom {
  const lat = bounds[1] <= 0 && bounds[3] >= 0 ? 0 : Math.min(Math.abs(bounds[1]), Math.abs(bounds[3]));
  const cos = Math.cos((lat * Math.PI) / 180);
  const chipsAt = (level: number): number => {
    const matrix = tms.definition.tileMatrices[level]!;
    const spanX = matrix.cellSize * matrix.tileWidth;
    const spanY = matrix.cellSize * matrix.tileHeight;
    // Ground metres of the tile's sides: Web Mercator metres shrink by cos(lat); degrees scale by their length.
    const [x, y] = tms.gridCrs === 'EPSG:3857' ? [spanX * cos, spanY * cos] : [spanX * METRES_PER_DEGREE * cos, spanY * METRES_PER_DEGREE];
    return chipsPerAxis(x / LATTICE_RESOLUTION + KERNEL_MARGIN) * chipsPerAxis(y / LATTICE_RESOLUTION + KERNEL_MARGIN);
  };
  const levels = tms.definition.tileMatrices.length;
  let zoom = levels - 1;
  for (let level = 0; level < levels; level += 1) {
    if (chipsAt(level) <= maxChips) {
      zoom = level;
      break;
    }
  }
  return { zoom, chipsAt };
}
