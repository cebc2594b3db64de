import type { Bbox } from '../grid/tiles.js';
import type { Modality } from '../modalities.js';
import type { Grid, Raster } from '../raster/raster.js';

/**
 * The values that cross the chip engine's boundary. Tiles, coverage tiles and processes all call one
 * ChipEngine; none of them knows about chips, seeds or blending.
 */

/** One input of a generation: a modality read from a STAC item or GeoTIFF URL. */
export interface GenerationSource {
  modality: Modality;
  href: string;
  /** Operator configuration (COLLECTIONS_FILE): may name file:// and loopback hosts. Never set for user input. */
  trusted: boolean;
}

/** Sampling and diffusion parameters, public names as in queries and process inputs; all change the output. */
export interface GenerationParams {
  seed: number;
  timesteps: number;
  temperature: number;
  top_p: number;
  top_k: number;
  /** Thinking-in-Modalities: token modalities generated first and fed back as inputs. */
  thinking: Modality[];
}

/** What to generate from: sources (the first anchors the chip lattice) and parameters, fully defaulted. */
export interface GenerationSpec {
  sources: GenerationSource[];
  params: GenerationParams;
}

/** The anchored chip lattice: 10 m pixels in `crs`, origin phase (p, q) in CRS units, chips of 224 px, stride 192. */
export interface ChipLattice {
  crs: string;
  resolution: number;
  phase: [number, number];
}

/** Where a spec can generate: its lattice and the sources' common footprint. */
export interface GenerationPlan {
  spec: GenerationSpec;
  lattice: ChipLattice;
  /** Common footprint of all sources in CRS84 [west, south, east, north]. */
  bounds: Bbox;
  /** The same footprint in the lattice CRS [minX, minY, maxX, maxY]. */
  nativeBounds: Bbox;
}

export interface ChipProgress {
  /** Chips of this read that are ready (from cache, generated, or skipped because no input is valid there). */
  done: number;
  total: number;
  generated: number;
  cached: number;
}

export interface EngineReadOptions {
  signal?: AbortSignal;
  /** Called each time a chip of this read is ready. */
  onChip?: (progress: ChipProgress) => void;
  /** Resampling from the lattice onto a target in another CRS (class maps are always nearest). */
  resampling?: 'nearest' | 'bilinear';
  /** 'batch' (jobs) lets interactive reads (tiles, the default) generate their chips first. */
  priority?: 'interactive' | 'batch';
}

export interface ChipEngine {
  /** Opens the sources (metadata only) and fixes the lattice; 400 when the sources do not overlap. */
  plan(spec: GenerationSpec, signal?: AbortSignal): Promise<GenerationPlan>;
  /** A grid on the lattice covering `bbox` (lattice CRS), snapped outward to whole 10 m pixels. */
  latticeGrid(plan: GenerationPlan, bbox: Bbox): Grid;
  /** How many chips a read of `target` touches (what JOB_MAX_CHIPS and the tile zoom limit count). */
  countChips(plan: GenerationPlan, target: Grid): number;
  /**
   * The outputs on `target` (any CRS), blended from the anchored chips that cover it: cached chips are taken,
   * missing ones generated (once per process, batched), then cached. Mask 0 wherever any input is invalid.
   * Values in physical units (LULC: class index). Throws OgcError 503 when the generation queue is full.
   */
  read(plan: GenerationPlan, outputs: Modality[], target: Grid, options?: EngineReadOptions): Promise<Partial<Record<Modality, Raster>>>;
}
