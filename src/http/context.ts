import { createCacheStore } from '../cache/create.js';
import { cacheKey } from '../cache/keys.js';
import type { CacheStore } from '../cache/store.js';
import { TileCache } from '../cache/tile-cache.js';
import { loadCollectionsFile, type CollectionConfig } from '../collections/config.js';
import { CollectionRegistry, type SourceOpenerPort } from '../collections/registry.js';
import type { Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import type { ModelRuntime } from '../model/index.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import type { GuardedFetch } from '../net/types.js';
import { encodeImage } from '../render/encode.js';
import { renderRaster } from '../render/index.js';
import { createSourceOpener } from '../sources/open.js';
import { TileService } from '../tiles/service.js';

/**
 * Everything a request handler may use, built once at start-up and passed to createApp: no module-level
 * singletons, so a test builds an app over other parts (a memory cache, a loopback allowlist).
 */
export interface AppContext {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  fetch: GuardedFetch;
  sources: SourceOpenerPort;
  cache: TileCache;
  collections: CollectionRegistry;
  tiles: TileService;
  /** The TerraMind runtime, when the process loaded a model package (server.ts does; most tests do not). */
  model?: ModelRuntime;
  startedAt: Date;
}

export interface ContextOverrides {
  logger?: Logger;
  metrics?: Metrics;
  cacheStore?: CacheStore;
  /** Configured collections (instead of reading COLLECTIONS_FILE). */
  collections?: CollectionConfig[];
  model?: ModelRuntime;
}

export function createContext(config: Config, overrides: ContextOverrides = {}): AppContext {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = overrides.metrics ?? createMetrics();
  const fetch = createGuardedFetch(
    { allowHosts: config.FETCH_ALLOW_HOSTS, timeoutMs: config.FETCH_TIMEOUT_MS, maxBytes: config.FETCH_MAX_BYTES, allowFileUrls: false },
    metrics,
  );
  const sources = createSourceOpener({
    fetch,
    metrics,
    logger,
    blockCacheBytes: config.SOURCE_BLOCK_CACHE_BYTES,
    decodedCacheBytes: config.SOURCE_DECODED_CACHE_BYTES,
    headerCacheBytes: config.SOURCE_HEADER_CACHE_BYTES,
    maxDocumentBytes: config.STAC_MAX_DOCUMENT_BYTES,
    decodeWorkers: config.DECODE_WORKERS,
    limits: {
      maxTilesPerRead: config.RASTER_MAX_TILES_PER_READ,
      maxDecodedBytesPerRequest: config.RASTER_MAX_DECODED_BYTES_PER_REQUEST,
      maxDecodedBytesInFlight: config.RASTER_MAX_DECODED_BYTES_IN_FLIGHT,
      maxHeaderBytes: config.RASTER_MAX_HEADER_BYTES,
    },
  });
  const cache = new TileCache(overrides.cacheStore ?? createCacheStore(config), { metrics, logger });
  const collections = new CollectionRegistry(overrides.collections ?? loadCollectionsFile(config.COLLECTIONS_FILE), sources);
  const tiles = new TileService({ registry: collections, cache, render: renderRaster, encode: encodeImage, cacheKey, metrics, logger });
  return { config, logger, metrics, fetch, sources, cache, collections, tiles, model: overrides.model, startedAt: new Date() };
}
