import { LRUCache } from 'lru-cache';
import type { CacheStatus, Produced } from '../cache/tile-cache.js';
import type { CachedObject } from '../cache/store.js';
import type { CollectionRegistry, ResolvedCollection } from '../collections/registry.js';
import { badRequest, notFound } from '../errors.js';
import { mercatorToLonLat, resolveTile, tileBounds, tileGrid, tileMatrixSetLimits, type Bbox, type TileMatrixLimits } from '../grid/tiles.js';
import type { TileMatrixSetEntry } from '../grid/tms.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { MODALITIES, type Modality } from '../modalities.js';
import { createRaster, type Raster } from '../raster/raster.js';
import { contentTypeOf } from '../render/encode.js';
import type { ImageFormat, RgbaImage } from '../render/types.js';
import { generationZoom } from './generation-zoom.js';

/**
 * One tile, from request to bytes: cache key (every parameter that changes the bytes) -> cache getOrCreate ->
 * tile grid -> reader.read -> render (map tiles) or GeoTIFF of the values (coverage tiles). Knows nothing of
 * HTTP. Generated collections come through the same path: their reader runs the chip engine, and the zoom
 * levels they are served at start where one tile needs at most GENERATE_MAX_CHIPS_PER_TILE chips.
 */
export interface TileCachePort {
  has(key: string): Promise<boolean>;
  getOrCreate(
    key: string,
    produce: (signal: AbortSignal) => Promise<Produced>,
    signal?: AbortSignal,
  ): Promise<{ object: CachedObject; status: CacheStatus }>;
}

export type RenderFn = (raster: Raster, modality: Modality, params?: Record<string, string>) => RgbaImage;
export type EncodeFn = (image: RgbaImage, format: ImageFormat) => Promise<Uint8Array>;
export type EncodeCoverageFn = (raster: Raster) => Uint8Array;
export type CacheKeyFn = (kind: string, parts: Record<string, string | number | boolean | undefined>, extension: string) => string;

export interface TileServiceDeps {
  registry: CollectionRegistry;
  cache: TileCachePort;
  render: RenderFn;
  encode: EncodeFn;
  encodeCoverage: EncodeCoverageFn;
  cacheKey: CacheKeyFn;
  /** Most chips one generated tile may need (GENERATE_MAX_CHIPS_PER_TILE). */
  maxChipsPerTile: number;
  metrics?: Metrics;
  logger?: Logger;
}

export type TileDataType = 'map' | 'coverage';

export interface TileRequest {
  collection: ResolvedCollection;
  tms: TileMatrixSetEntry;
  tileMatrix: string;
  tileRow: string;
  tileCol: string;
  /** Map tiles: an image format; coverage tiles (the values): 'tiff'. */
  format: ImageFormat | 'tiff';
  /**
   * Which limits a tile must be inside: the collection's exact ones (default), or the whole matrix from the first
   * served level on (the limits GDAL <= 3.7 is given); outside the data such a tile is blank, as any other.
   */
  limits?: 'exact' | 'matrix';
}

export interface TileResult {
  object: CachedObject;
  status: CacheStatus;
}

/** Longest side that the transparent-tile shortcut and renderers are asked for (registered sets use 256). */
const MAX_TILE_SIDE = 4096;

export const COVERAGE_MEDIA_TYPE = 'image/tiff; application=geotiff';

export class TileService {
  /** Limits per collection content and set: every tile request checks against them, cache hits included. */
  private readonly limitsMemo = new LRUCache<string, TileMatrixLimits[]>({ max: 2000 });

  constructor(private readonly deps: TileServiceDeps) {}

  /** tileMatrixSetLimits of a collection on a tile matrix set, from its first served level to its maxzoom. */
  async limits(collection: ResolvedCollection, tms: TileMatrixSetEntry, signal?: AbortSignal): Promise<TileMatrixLimits[]> {
    const key = `${collection.modality}\u0000${collection.source}\u0000${tms.definition.id}\u0000${collection.maxzoom}`;
    const remembered = this.limitsMemo.get(key);
    if (remembered) return remembered;
    const bounds = await this.deps.registry.bounds(collection, signal);
    const limits = tileMatrixSetLimits(tms, bounds, this.maxZoomIndex(collection, tms), await this.minZoomIndex(collection, tms, signal));
    this.limitsMemo.set(key, limits);
    return limits;
  }

  /** Highest tile matrix index served for a collection on a set (its maxzoom, within the set). */
  maxZoomIndex(collection: ResolvedCollection, tms: TileMatrixSetEntry): number {
    return Math.min(collection.maxzoom, tms.definition.tileMatrices.length - 1);
  }

  /** Lowest tile matrix index served: 0, or for a generated collection the first level cheap enough to generate. */
  async minZoomIndex(collection: ResolvedCollection, tms: TileMatrixSetEntry, signal?: AbortSignal): Promise<number> {
    if (!collection.generation) return 0;
    const bounds = await this.deps.registry.bounds(collection, signal);
    return Math.min(generationZoom(tms, bounds, this.deps.maxChipsPerTile).zoom, this.maxZoomIndex(collection, tms));
  }

  /** Whether the tile is in the cache already (what API keys may leave public for generated tiles). */
  async isCached(request: TileRequest, signal?: AbortSignal): Promise<boolean> {
    const { key } = await this.address(request, signal);
    return this.deps.cache.has(key);
  }

  async tile(request: TileRequest, signal?: AbortSignal): Promise<TileResult> {
    const { collection, tms, format } = request;
    const { matrix, tileRow, tileCol, key } = await this.address(request, signal);
    return this.deps.cache.getOrCreate(
      key,
      async (work) => {
        const started = performance.now();
        const grid = tileGrid(tms, matrix, tileRow, tileCol);
        const reader = await this.deps.registry.open(collection, work);
        const inside = intersects(tileLonLatBounds(tms, tileBounds(matrix, tileRow, tileCol)), reader.bounds);
        let produced: Produced;
        if (format === 'tiff') {
          const raster = inside ? await reader.read(grid, { signal: work }) : emptyRaster(grid, collection.modality);
          produced = { body: this.deps.encodeCoverage(raster), contentType: COVERAGE_MEDIA_TYPE };
        } else {
          const image = inside
            ? this.deps.render(await reader.read(grid, { signal: work }), collection.modality, collection.render)
            : transparentImage(grid.width, grid.height);
          produced = { body: await this.deps.encode(image, format), contentType: contentTypeOf(format) };
        }
        this.deps.metrics?.renderSeconds.observe({ modality: collection.modality }, (performance.now() - started) / 1000);
        return produced;
      },
      signal,
    );
  }

  /** The tile's matrix, row, column and cache key, after every check that can refuse it (400/404). */
  private async address(request: TileRequest, signal?: AbortSignal) {
    const { collection, tms, format } = request;
    const dataType: TileDataType = format === 'tiff' ? 'coverage' : 'map';
    const limits = await this.limits(collection, tms, signal);
    await this.checkGenerationZoom(request, limits, signal);
    const { matrix, tileRow, tileCol } = resolveTile(tms, request, request.limits === 'matrix' ? wholeLevels(limits) : limits);
    if (matrix.tileWidth > MAX_TILE_SIDE || matrix.tileHeight > MAX_TILE_SIDE) {
      throw badRequest(`Tile matrix ${matrix.id} has tiles larger than ${MAX_TILE_SIDE} px.`);
    }
    const renderParts =
      dataType === 'map' ? Object.fromEntries(Object.entries(collection.render).map(([key, value]) => [`render.${key}`, value])) : {};
    const key = this.deps.cacheKey(
      dataType === 'map' ? 'tile' : 'coverage',
      {
        collection: collection.adHoc ? undefined : collection.id,
        modality: collection.modality,
        source: collection.source,
        tms: tms.definition.id,
        z: matrix.id,
        row: tileRow,
        col: tileCol,
        format,
        ...renderParts,
        ...collection.keyParts,
      },
      format === 'tiff' ? 'tif' : format,
    );
    return { matrix, tileRow, tileCol, key };
  }

  /** A generated collection below its first level: a 404 that says which zoom to ask for instead. */
  private async checkGenerationZoom(request: TileRequest, limits: TileMatrixLimits[], signal?: AbortSignal): Promise<void> {
    const { collection, tms } = request;
    if (!collection.generation) return;
    const first = Number(limits[0]?.tileMatrix ?? 0);
    const level = Number(request.tileMatrix);
    if (!Number.isInteger(level) || level >= first) return;
    const bounds = await this.deps.registry.bounds(collection, signal);
    const needed = generationZoom(tms, bounds, this.deps.maxChipsPerTile).chipsAt(level);
    throw notFound(
      `Tiles of generated ${collection.modality} start at tile matrix ${first} of ${tms.definition.id}: a tile of level ${level} ` +
        `would need up to ${needed} chips, and at most ${this.deps.maxChipsPerTile} (GENERATE_MAX_CHIPS_PER_TILE) are generated per tile. ` +
        `Ask for level ${first} or higher, or run the terramind-generate process for a larger area.`,
    );
  }
}

/** The same levels with every tile of their matrices allowed. */
function wholeLevels(limits: TileMatrixLimits[]): TileMatrixLimits[] {
  return limits.map((l) => ({ ...l, minTileRow: 0, minTileCol: 0, maxTileRow: Number.MAX_SAFE_INTEGER, maxTileCol: Number.MAX_SAFE_INTEGER }));
}

export function transparentImage(width: number, height: number): RgbaImage {
  return { width, height, data: new Uint8Array(width * height * 4) };
}

/** A fully masked raster of a modality on a grid (a coverage tile outside the data: all nodata). */
function emptyRaster(grid: Parameters<typeof createRaster>[0], modality: Modality): Raster {
  return createRaster(grid, [...MODALITIES[modality].bands], modality);
}

function tileLonLatBounds(tms: TileMatrixSetEntry, bounds: Bbox): Bbox {
  if (tms.gridCrs === 'EPSG:4326') return bounds;
  const [west, south] = mercatorToLonLat(bounds[0], bounds[1]);
  const [east, north] = mercatorToLonLat(bounds[2], bounds[3]);
  return [west, south, east, north];
}

function intersects(a: Bbox, b: readonly number[]): boolean {
  return a[0] < b[2] && a[2] > b[0] && a[1] < b[3] && a[3] > b[1];
}
