import type { Modality } from '../modalities.js';
import type { Grid, Raster } from '../raster/raster.js';

/**
 * An opened input: one modality of one STAC item or GeoTIFF, ready to be read onto any target grid.
 * Opening reads metadata only (item JSON, TIFF headers); pixels are read per request by range requests.
 */
export interface ModalityReader {
  modality: Modality;
  id: string;
  /** Footprint in CRS84 [west, south, east, north]. */
  bounds: [number, number, number, number];
  /** Native CRS and pixel size (in CRS units) of the finest band. */
  crs: string;
  resolution: number;
  /** Map coordinates of the finest band's pixel lattice origin (its transform's c, f): the chip lattice's phase. */
  origin: [number, number];
  /**
   * Reads the modality resampled onto `target` (any CRS): bands in TerraMind order, values in the model's
   * convention (scale/offset applied), mask 0 outside the source or where it has no data.
   */
  read(target: Grid, options?: { signal?: AbortSignal; resampling?: 'nearest' | 'bilinear' }): Promise<Raster>;
}
