import type { Modality } from '../modalities.js';
import type { Affine } from '../raster/raster.js';

export type ValueTransform = 'linear-to-db' | 'esri-lulc-to-terramind';

/** Where one band of a modality lives and how to turn its stored values into what TerraMind expects. */
export interface BandSource {
  /** TerraMind band name (src/modalities.ts). */
  band: string;
  /** Absolute URL of the GeoTIFF/COG. */
  href: string;
  /** 1-based band index inside that file. */
  bandIndex: number;
  /** model value = stored * scale + offset (the per-source conventions are folded in here). */
  scale: number;
  offset: number;
  /** Stored value that means "no data", when the item or the file declares one. */
  nodata?: number;
  /**
   * A non-affine step applied after scale/offset (see src/stac/value-transforms.ts, `applyValueTransform`):
   * 'linear-to-db' for backscatter stored as linear power (Planetary Computer S1 RTC): model = 10*log10(v),
   * values <= 0 become no data; 'esri-lulc-to-terramind' remaps ESRI/IO land-cover codes (1,2,4,5,7,8,9,10,11)
   * to TerraMind class indices 1..9 (unknown codes become 0 = no data).
   */
  valueTransform?: ValueTransform;
  /** STAC asset key the band came from (for messages and logs). */
  assetKey?: string;
  /** Georeferencing from STAC proj:* when present (the file's own tags are used otherwise). */
  crs?: string;
  transform?: Affine;
  shape?: [rows: number, cols: number];
}

/** A modality resolved from a STAC item or a plain GeoTIFF: every band of it, in TerraMind order. */
export interface ModalitySource {
  modality: Modality;
  /** STAC item id, or the file name of a plain GeoTIFF. */
  id: string;
  bands: BandSource[];
  datetime?: string;
  /** Footprint in CRS84 [west, south, east, north] when known from the item. */
  bbox?: [number, number, number, number];
}
