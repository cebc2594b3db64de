import { createHash } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { MemoryCacheStore } from './memory-store.js';
import { SingleFlight } from './single-flight.js';
import type { CachedObject, CacheStore } from './store.js';

export type CacheStatus = 'hit' | 'miss' | 'bypass';

export interface Produced {
  body: Uint8Array;
  contentType: string;
}

export interface TileCacheDeps {
  metrics?: Metrics;
  logger?: Logger;
  /** Upper bound on one store get/put; past it the store counts as failed for this request. */
  storeTimeoutMs?: number;
}

/** Strong validator of the bytes: quoted base64url sha256 (the ETag header value). */
export function etagOf(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}

/**
 * Read-through cache in front of a CacheStore.
 * - Single-flight: concurrent callers of one missing key share one `produce` run (and one store lookup). Each
 *   caller may pass its request's signal; `produce` gets a signal that aborts only when every caller has gone, so
 *   a tile nobody waits for any more stops (and its queued chips are never generated).
 * - The store is an optimisation: if get or put fails (or exceeds storeTimeoutMs) the failure is logged and counted,
 *   the tile is still returned, and the status is 'bypass'.
 * - The write happens before the promise resolves (before responding): the status is then truthful, a following
 *   request for the same key is a guaranteed hit, and no background work outlives the request. The cost is one store
 *   round trip on misses only, bounded by storeTimeoutMs.
 * - If `produce` throws, every waiter gets that error and nothing is stored: errors are never cached.
 */
export class TileCache {
  private readonly inflight = new SingleFlight<{ object: CachedObject; status: CacheStatus }>();
  private readonly storeTimeoutMs: number;

  constructor(
    readonly store: CacheStore,
    private readonly deps: TileCacheDeps = {},
  ) {
    this.storeTimeoutMs = deps.storeTimeoutMs ?? 5_000;
  }

  getOrCreate(
    key: string,
    produce: (signal: AbortSignal) => Promise<Produced>,
    signal?: AbortSignal,
  ): Promise<{ object: CachedObject; status: CacheStatus }> {
    // A hit in the in-process LRU is answered without the single-flight bookkeeping and its promises.
    if (this.store instanceof MemoryCacheStore) {
      const object = this.store.peek(key);
      if (object) {
        this.deps.metrics?.cacheRequests.inc({ result: 'hit', store: this.store.kind });
        return Promise.resolve({ object, status: 'hit' });
      }
    }
    const task = this.inflight.run(key, (flightSignal) => this.lookupOrProduce(key, () => produce(flightSignal)), signal);
    // Counted per caller, so the metric reads as "requests served from / past the cache".
    return task.then((result) => {
      this.deps.metrics?.cacheRequests.inc({ result: result.status, store: this.store.kind });
      return result;
    });
  }

  /** Whether the store holds the key now (a failing store counts as not holding it). */
  async has(key: string): Promise<boolean> {
    try {
      return (await this.withTimeout(this.store.get(key), 'get')) !== undefined;
    } catch {
      return false;
    }
  }

  /** Number of keys currently being produced (for tests and diagnostics). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  private async lookupOrProduce(key: string, produce: () => Promise<Produced>): Promise<{ object: CachedObject; status: CacheStatus }> {
    let storeFailed = false;
    try {
      const cached = await this.withTimeout(this.store.get(key), 'get');
      if (cached) {
        return { object: cached, status: 'hit' };
      }
    } catch (error) {
      storeFailed = true;
      this.storeFailure('get', key, error);
    }

    const produced = await produce();
    const object: CachedObject = { body: produced.body, contentType: produced.contentType, etag: etagOf(produced.body) };

    try {
      await this.withTimeout(this.store.put(key, object), 'put');
    } catch (error) {
      storeFailed = true;
      this.storeFailure('put', key, error);
    }
    return { object, status: storeFailed ? 'bypass' : 'miss' };
  }

  private storeFailure(operation: 'get' | 'put', key: string, error: unknown): void {
    this.deps.metrics?.cacheStoreFailures.inc({ operation });
    this.deps.logger?.warn({ err: error, key, operation, store: this.store.kind }, 'cache store failed; serving uncached');
  }

  private withTimeout<T>(promise: Promise<T>, operation: string): Promise<T> {
    // Our in-process LRU cannot hang; a timer per lookup is a measurable part of a memory cache hit.
    if (this.store instanceof MemoryCacheStore) return promise;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`cache store ${operation} timed out after ${this.storeTimeoutMs} ms`)), this.storeTimeoutMs);
    });
    // A late rejection of the original promise must not become an unhandled rejection.
    promise.catch(() => undefined);
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
