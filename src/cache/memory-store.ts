import { LRUCache } from 'lru-cache';
import type { CachedObject, CacheStore } from './store.js';

/** Rough per-entry bookkeeping cost so that many tiny objects still count against the byte budget. */
const ENTRY_OVERHEAD_BYTES = 256;

/** In-process LRU bounded by bytes (body + key + overhead). Lost on restart; one per process. */
export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const;
  private readonly lru: LRUCache<string, CachedObject>;

  constructor(readonly maxBytes: number) {
    if (!Number.isFinite(maxBytes) || maxBytes <= 0) throw new Error('MemoryCacheStore: maxBytes must be > 0');
    this.lru = new LRUCache<string, CachedObject>({
      maxSize: maxBytes,
      sizeCalculation: (object, key) => object.body.byteLength + key.length + object.contentType.length + ENTRY_OVERHEAD_BYTES,
    });
  }

  async get(key: string): Promise<CachedObject | undefined> {
    return this.lru.get(key);
  }

  /** The same lookup without a promise (it also counts as a use for the LRU order). */
  peek(key: string): CachedObject | undefined {
    return this.lru.get(key);
  }

  async put(key: string, object: CachedObject): Promise<void> {
    // Objects larger than the whole budget are silently not kept (lru-cache refuses them), which is what we want.
    this.lru.set(key, { body: object.body, contentType: object.contentType, etag: object.etag });
  }

  async putIfAbsent(key: string, object: CachedObject): Promise<boolean> {
    if (this.lru.has(key)) return false;
    await this.put(key, object);
    return true;
  }

  /** Bytes currently accounted (for tests and metrics). */
  get sizeBytes(): number {
    return this.lru.calculatedSize;
  }
}
