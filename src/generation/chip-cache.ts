import { LRUCache } from 'lru-cache';
import { etagOf } from '../cache/tile-cache.js';
import type { CacheStore } from '../cache/store.js';
import type { Logger } from '../logger.js';
import { decodeChip, encodeChip, type ChipValues } from './chip-codec.js';
import type { ChipLeases } from './leases.js';

/**
 * Where generated chips live: decoded in a process-local LRU bounded by bytes, encoded in the shared cache store
 * (S3, files, memory) so other instances and restarts reuse them. The store is an optimisation like for tiles:
 * a failing store is logged and the chip is still served. Values handed out are always the decoded form of the
 * encoded chip, so a chip generated now and the same chip read back later blend identically.
 */
export type ChipOrigin = 'memory' | 'store' | 'generated' | 'peer';

export interface ChipCacheOptions {
  /** Budget of decoded chips kept in memory. */
  memoryBytes: number;
  /** How long to wait for a chip another instance holds the lease on before generating it here. */
  leaseWaitMs: number;
  /** How often to look for that chip meanwhile. */
  pollMs: number;
}

const CONTENT_TYPE = 'application/vnd.terramind-ogc.chip';

export class ChipCache {
  private readonly decoded: LRUCache<string, ChipValues>;

  constructor(
    readonly store: CacheStore,
    private readonly leases: ChipLeases,
    private readonly options: ChipCacheOptions,
    private readonly logger?: Logger,
  ) {
    this.decoded = new LRUCache<string, ChipValues>({
      maxSize: Math.max(1, options.memoryBytes),
      sizeCalculation: (chip) => chip.mask.byteLength + chip.bands.reduce((sum, band) => sum + band.byteLength, 0) + 256,
    });
  }

  /** A chip already decoded in this process. */
  inMemory(key: string): ChipValues | undefined {
    return this.decoded.get(key);
  }

  /** A chip from the store, decoded and remembered; undefined when it is not there (or the store fails). */
  async load(key: string): Promise<ChipValues | undefined> {
    let object;
    try {
      object = await this.store.get(key);
    } catch (error) {
      this.logger?.warn({ err: error, key, store: this.store.kind }, 'chip store get failed; generating instead');
      return undefined;
    }
    if (!object) return undefined;
    try {
      return this.remember(key, decodeChip(object.body));
    } catch (error) {
      // A damaged object is regenerated (and overwritten) rather than served.
      this.logger?.warn({ err: error, key }, 'cached chip does not decode; generating it again');
      return undefined;
    }
  }

  /**
   * Produces a missing chip under the cross-instance lease: generates it here, or waits (bounded) for the instance
   * that holds the lease, then generates it anyway. Stores the encoded chip before returning. A lease this
   * instance took is released however the generation ends, so no other instance waits for a chip that is not
   * coming; a lease it could not take (the store failed) is never written over, as it may be another's.
   */
  async produce(key: string, generate: () => Promise<ChipValues>): Promise<{ values: ChipValues; origin: ChipOrigin }> {
    // true: ours; false: another instance holds it; undefined: the lease store failed, so generate without one.
    let leased: boolean | undefined;
    try {
      leased = await this.leases.acquire(key);
    } catch (error) {
      this.logger?.warn({ err: error, key }, 'chip lease failed; generating without one');
    }
    if (leased === false) {
      const deadline = Date.now() + this.options.leaseWaitMs;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
        const values = await this.load(key);
        if (values) return { values, origin: 'peer' };
        if (!(await this.leases.heldByOther(key).catch(() => false))) break;
      }
    }
    try {
      // The other instance may have stored the chip and released its lease between our lookups (or before we took
      // the lease): one more look costs a GET, a second generation costs model time.
      const meanwhile = await this.load(key);
      if (meanwhile) return { values: meanwhile, origin: 'peer' };
      const bytes = encodeChip(await generate());
      const values = this.remember(key, decodeChip(bytes));
      try {
        await this.store.put(key, { body: bytes, contentType: CONTENT_TYPE, etag: etagOf(bytes) });
      } catch (error) {
        this.logger?.warn({ err: error, key, store: this.store.kind }, 'chip store put failed; serving uncached');
      }
      return { values, origin: 'generated' };
    } finally {
      if (leased) await this.release(key);
    }
  }

  /** Releases our lease; a release that fails leaves it to expire at its TTL, which only delays other instances. */
  private async release(key: string): Promise<void> {
    try {
      await this.leases.release(key);
    } catch (error) {
      this.logger?.warn({ err: error, key, store: this.store.kind }, 'chip lease release failed; it expires at its TTL');
    }
  }

  private remember(key: string, values: ChipValues): ChipValues {
    this.decoded.set(key, values);
    return values;
  }
}
