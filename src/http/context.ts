import { createCacheStore } from '../cache/create.js';
import { cacheKey } from '../cache/keys.js';
import type { CacheStore } from '../cache/store.js';
import { TileCache } from '../cache/tile-cache.js';
import { loadCollectionsFile, type CollectionConfig } from '../collections/config.js';
import { CollectionRegistry, type SourceOpenerPort } from '../collections/registry.js';
import type { Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { createChipEngine, type LocalChipEngine } from '../generation/engine.js';
import type { ModelRuntime } from '../model/index.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import type { GuardedFetch } from '../net/types.js';
import { encodeImage } from '../render/encode.js';
import { encodeGeoTiff } from '../render/geotiff.js';
import { renderRaster } from '../render/index.js';
import { createSourceOpener } from '../sources/open.js';
import { TileService } from '../tiles/service.js';
import { JobManager } from '../jobs/manager.js';
import { createObjectStore, type ObjectStore } from '../jobs/object-store.js';
import { virtualCollectionFinder } from '../processes/virtual-collections.js';
import { workflowPath } from '../processes/generate.js';
import { Lifecycle } from './lifecycle.js';

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
  /** The chip engine over that runtime: generated collections and processes. */
  engine?: LocalChipEngine;
  startedAt: Date;
  /** OGC API - Processes jobs of this instance, in the job store (JOBS_URL). */
  jobs: JobManager;
  /** Readiness: starting (model warming up) -> ready -> draining (after SIGTERM). */
  lifecycle: Lifecycle;
}

export interface ContextOverrides {
  logger?: Logger;
  metrics?: Metrics;
  cacheStore?: CacheStore;
  /** Configured collections (instead of reading COLLECTIONS_FILE). */
  collections?: CollectionConfig[];
  model?: ModelRuntime;
  /** The job store (instead of JOBS_URL). */
  jobStore?: ObjectStore;
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
  const engine = overrides.model && createEngine(config, overrides.model, sources, cache.store, logger, metrics);
  const jobs = new JobManager(overrides.jobStore ?? createObjectStore(config), {
    maxRunning: config.JOBS_MAX_RUNNING,
    maxQueued: config.JOBS_MAX_QUEUED,
    heartbeatMs: config.JOB_HEARTBEAT_MS,
    staleMs: config.JOB_STALE_MS,
    logger,
  });
  const collections = new CollectionRegistry(
    overrides.collections ?? loadCollectionsFile(config.COLLECTIONS_FILE),
    sources,
    engine ? { engine } : undefined,
    { find: virtualCollectionFinder(jobs.repository), workflowPath: workflowPath },
  );
  const tiles = new TileService({
    registry: collections,
    cache,
    render: renderRaster,
    encode: encodeImage,
    // Coverage tiles: float32 values in physical units, NaN where there is no data (GDAL_NODATA nan).
    encodeCoverage: (raster) => encodeGeoTiff(raster, { alwaysDeclareNodata: true }),
    cacheKey,
    maxChipsPerTile: config.GENERATE_MAX_CHIPS_PER_TILE,
    metrics,
    logger,
  });
  // Without a model there is nothing to warm up: ready at once (tests, tools). server.ts marks a model ready.
  const lifecycle = new Lifecycle(overrides.model ? 'starting' : 'ready');
  return { config, logger, metrics, fetch, sources, cache, collections, tiles, model: overrides.model, engine, startedAt: new Date(), lifecycle, jobs };
}

function createEngine(config: Config, model: ModelRuntime, sources: SourceOpenerPort, store: CacheStore, logger: Logger, metrics: Metrics): LocalChipEngine {
  const engine = createChipEngine({
    runtime: model,
    opener: sources,
    store,
    logger,
    onChip: ({ origin, output }) => metrics.generationChips.inc({ origin, output }),
    onModelStages: (stages) => {
      for (const [stage, ms] of Object.entries(stages)) metrics.modelStageSeconds.observe({ stage }, ms / 1000);
    },
    settings: {
      queueMax: config.GENERATION_QUEUE_MAX,
      concurrency: config.GENERATION_CONCURRENCY || config.BATCH_MAX_SIZE,
      memoryBytes: config.CHIP_MEMORY_CACHE_BYTES,
      leaseTtlMs: config.GENERATION_LEASE_TTL_MS,
      leaseWaitMs: config.GENERATION_LEASE_WAIT_MS,
      leaseSettleMs: config.GENERATION_LEASE_SETTLE_MS,
      chipFetchTimeoutMs: config.REQUEST_TIMEOUT_MS,
      chipDecodedBytes: config.RASTER_MAX_DECODED_BYTES_PER_REQUEST,
    },
  });
  metrics.generationQueueProbe.read = () => engine.stats();
  return engine;
}
