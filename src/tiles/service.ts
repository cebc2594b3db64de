import type { CacheStatus, Produced } from '../cache/tile-cache.js';
import type { CachedObject } from '../cache/store.js';
import type { CollectionRegistry, ResolvedCollection } from '../collections/registry.js';
import { badRequest } from '../errors.js';
import { mercatorToLonLat, resolveTile, tileBounds, tileGrid, tileMatrixSetLimits, type Bbox, type TileMatrixLimits } from '../grid/tiles.js';
import type { TileMatrixSetEntry } from '../grid/tms.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Modality } from '../modalities.js';
import type { Raster } from '../raster/raster.js';
import { contentTypeOf } from '../render/encode.js';
import type { ImageFormat, RgbaImage } from '../render/types.js';

/**
 * One map tile, from request to bytes: cache key (every parameter that changes the bytes) -> cache
 * getOrCreate -> tile grid -> reader.read -> render -> encode. Knows nothing of HTTP. A generated modality
 * joins without changing this file: the registry hands out a ModalityReader whose read() reads the inputs
 * and runs the model (chips, blend, warp), and the model's name@version and seed go into `keyParts`.
 */
export interface TileCachePort {
  getOrCreate(key: string, produce: () => Promise<Produced>): Promise<{ object: CachedObject; status: CacheStatus }>;
}

export type RenderFn = (raster: Raster, modality: Modality, params?: Record<string, string>) => RgbaImage;
export type EncodeFn = (image: RgbaImage, format: ImageFormat) => Promise<Uint8Array>;
export type CacheKeyFn = (kind: string, parts: Record<string, string | number | boolean | undefined>, extension: string) => string;

export interface TileServiceDeps {
  registry: CollectionRegistry;
  cache: TileCachePort;
  render: RenderFn;
  encode: EncodeFn;
  cacheKey: CacheKeyFn;
  metrics?: Metrics;
  logger?: Logger;
}

export interface TileRequest {
  collection: ResolvedCollection;
  tms: TileMatrixSetEntry;
  tileMatrix: string;
  tileRow: string;
  tileCol: string;
  format: ImageFormat;
}

export interface TileResult {
  object: CachedObject;
  status: CacheStatus;
}

/** Longest side that the transparent-tile shortcut and renderers are asked for (registered sets use 256). */
const MAX_TILE_SIDE = 4096;

export class TileService {
  constructor(private readonly deps: TileServiceDeps) {}

  /** tileMatrixSetLimits of a collection on a tile matrix set, levels 0..maxzoom. */
  async limits(collection: ResolvedCollection, tms: TileMatrixSetEntry, signal?: AbortSignal): Promise<TileMatrixLimits[]> {
    const bounds = await this.deps.registry.bounds(collection, signal);
    return tileMatrixSetLimits(tms, bounds, this.maxZoomIndex(collection, tms));
  }

  /** Highest tile matrix index served for a collection on a set (its maxzoom, within the set). */
  maxZoomIndex(collection: ResolvedCollection, tms: TileMatrixSetEntry): number {
    return Math.min(collection.maxzoom, tms.definition.tileMatrices.length - 1);
  }

  async tile(request: TileRequest, signal?: AbortSignal): Promise<TileResult> {
    const { collection, tms, format } = request;
    const limits = await this.limits(collection, tms, signal);
    const { matrix, tileRow, tileCol } = resolveTile(tms, request, limits);
    if (matrix.tileWidth > MAX_TILE_SIDE || matrix.tileHeight > MAX_TILE_SIDE) {
      throw badRequest(`Tile matrix ${matrix.id} has tiles larger than ${MAX_TILE_SIDE} px.`);
    }
    const renderParts = Object.fromEntries(Object.entries(collection.render).map(([key, value]) => [`render.${key}`, value]));
    const key = this.deps.cacheKey(
      'tile',
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
      format,
    );
    return this.deps.cache.getOrCreate(key, async () => {
      // Not tied to the request's signal: concurrent requests for the same tile share this work.
      const started = performance.now();
      const grid = tileGrid(tms, matrix, tileRow, tileCol);
      const reader = await this.deps.registry.open(collection);
      let image: RgbaImage;
      if (!intersects(tileLonLatBounds(tms, tileBounds(matrix, tileRow, tileCol)), reader.bounds)) {
        image = transparentImage(grid.width, grid.height);
      } else {
        const raster = await reader.read(grid);
        image = this.deps.render(raster, collection.modality, collection.render);
      }
      const body = await this.deps.encode(image, format);
      this.deps.metrics?.renderSeconds.observe({ modality: collection.modality }, (performance.now() - started) / 1000);
      return { body, contentType: contentTypeOf(format) };
    });
  }
}

export function transparentImage(width: number, height: number): RgbaImage {
  return { width, height, data: new Uint8Array(width * height * 4) };
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
