import { badRequest } from '../errors.js';
import { readCogWindow, type CogDataset, type CogLevel } from './cog.js';
import type { Grid } from './raster.js';
import {
  TOLERANCE_FRACTION,
  sampleWindow,
  sourceCoordinates,
  sourcePixelsPerTargetPixel,
  toPixelCoordinates,
  type Resampling,
  type SourceCoordinates,
} from './warp.js';

/**
 * Reading a GeoTIFF onto any target grid, rio-tiler style: pick the overview by the resolution the target
 * needs (measured in the source CRS), read only the window of that level under the target (plus a margin),
 * then warp it with the approximate transformer.
 */
export interface BandRequest {
  /** 0-based sample index in the file. */
  sample: number;
  /** Stored value meaning no data (overrides the file's GDAL_NODATA). */
  nodata?: number;
}

export interface GridRead {
  /** One array per requested band, on the target grid (stored values, resampled). */
  values: Float32Array[];
  /** 255 where every requested band is valid. */
  valid: Uint8Array;
  /** Which level was read (0 = full resolution) and the window, for tests and logs. */
  levelIndex: number;
  window?: [number, number, number, number];
}

/** Largest window (in pixels) one read may decode: beyond it the request asks for too coarse a view. */
const MAX_WINDOW_PIXELS = 6000 * 6000;

/** Overview choice: the coarsest level still at least as fine as the target needs (gdalwarp/rio-tiler). */
export function selectLevel(levels: CogLevel[], sourcePixelsPerTarget: number): number {
  let chosen = 0;
  levels.forEach((level, index) => {
    // 1% slack absorbs rounding of overview sizes (1098 / 549 vs 1098 / 275).
    if (level.decimation <= sourcePixelsPerTarget * 1.01) chosen = index;
  });
  return chosen;
}

/** Size of a full-resolution pixel along the image's x axis, in CRS units (rotation-safe). */
export function datasetPixelSize(dataset: CogDataset): number {
  return Math.hypot(dataset.transform[0], dataset.transform[3]);
}

/** Source coordinates of the target's pixels, interpolated to within a fraction of a source pixel. */
export function datasetCoordinates(dataset: CogDataset, target: Grid): SourceCoordinates {
  return sourceCoordinates(target, dataset.crs, datasetPixelSize(dataset) * TOLERANCE_FRACTION);
}

export async function readOntoGrid(
  dataset: CogDataset,
  bands: BandRequest[],
  target: Grid,
  options: { resampling: Resampling; coords?: SourceCoordinates; signal?: AbortSignal },
): Promise<GridRead> {
  const size = target.width * target.height;
  const values = bands.map(() => new Float32Array(size));
  const valid = new Uint8Array(size).fill(255);
  const coords = options.coords ?? datasetCoordinates(dataset, target);

  const levelIndex = selectLevel(dataset.levels, sourcePixelsPerTargetPixel(coords, dataset.transform));
  const level = dataset.levels[levelIndex];
  const pixels = toPixelCoordinates(coords, level.transform);
  const window = windowOf(pixels.cols, pixels.rows, level);
  if (!window) {
    valid.fill(0);
    return { values, valid, levelIndex };
  }
  const [x0, y0, x1, y1] = window;
  const windowWidth = x1 - x0;
  const windowHeight = y1 - y0;
  if (windowWidth * windowHeight > MAX_WINDOW_PIXELS) {
    throw badRequest(
      `Reading ${dataset.url} onto this grid needs ${windowWidth}x${windowHeight} source pixels and the file has no ` +
        'overview coarse enough; request a finer zoom level or add overviews to the file (COG)',
    );
  }
  const decoded = await readCogWindow(
    dataset,
    level,
    window,
    bands.map((band) => band.sample),
    options.signal,
  );
  bands.forEach((band, k) => {
    const source = { x0, y0, width: windowWidth, height: windowHeight, values: decoded.bands[k]!, nodata: band.nodata ?? dataset.nodata, mask: decoded.mask };
    sampleWindow(pixels, source, options.resampling, values[k]!, valid);
  });
  return { values, valid, levelIndex, window };
}

/**
 * The level window under the target pixels' centres, widened by 2 px (the bilinear neighbour, plus one for the
 * approximate transformer's error), clamped to the image. Samples are taken at pixel centres only, so nothing
 * beyond that is read. Undefined when the target does not overlap the image.
 */
function windowOf(cols: Float32Array, rows: Float32Array, level: CogLevel): [number, number, number, number] | undefined {
  let minCol = Infinity;
  let minRow = Infinity;
  let maxCol = -Infinity;
  let maxRow = -Infinity;
  for (let i = 0; i < cols.length; i++) {
    const col = cols[i];
    const row = rows[i];
    if (!Number.isFinite(col) || !Number.isFinite(row)) continue;
    if (col < minCol) minCol = col;
    if (col > maxCol) maxCol = col;
    if (row < minRow) minRow = row;
    if (row > maxRow) maxRow = row;
  }
  if (!Number.isFinite(minCol)) return undefined;
  const margin = 2;
  const x0 = Math.max(0, Math.floor(minCol) - margin);
  const y0 = Math.max(0, Math.floor(minRow) - margin);
  const x1 = Math.min(level.width, Math.ceil(maxCol) + margin);
  const y1 = Math.min(level.height, Math.ceil(maxRow) + margin);
  if (x1 <= x0 || y1 <= y0) return undefined;
  return [x0, y0, x1, y1];
}
