import { LRUCache } from 'lru-cache';

/**
 * Byte blocks of remote files, shared by every request of the process: the key is url + block index, the
 * budget is in bytes. A COG header or a popular overview tile is then fetched once, not once per tile request.
 */
/**
 * 16 KiB, as GDAL's /vsicurl chunk: small COG tiles (TCI.tif's are a few KiB) waste little, and requests stay
 * few because blocks wanted in the same event-loop turn are merged into one range (byte-source.ts).
 * Measured on TCI.tif per 256 px tile, z8-z14: 1-1.7 requests and 21-368 KiB, against 1 request and
 * 64-427 KiB with 64 KiB blocks.
 */
export const BLOCK_SIZE = 16 * 1024;

export interface ByteStats {
  /** HTTP requests (or file reads) issued. */
  requests: number;
  /** Bytes received from upstream. */
  bytes: number;
  /** Blocks served from the cache without a request. */
  blockHits: number;
  /** Blocks that had to be fetched. */
  blockMisses: number;
}

export interface BlockCache {
  get(key: string): Uint8Array | undefined;
  set(key: string, block: Uint8Array): void;
  /** Requests already under way for a block, so two readers of one block share one fetch. */
  inFlight: Map<string, Promise<Uint8Array>>;
  stats: ByteStats;
  /** Bytes currently held. */
  size(): number;
}

export function createBlockCache(maxBytes: number = 64 * 1024 * 1024): BlockCache {
  const lru = new LRUCache<string, Uint8Array>({
    maxSize: Math.max(maxBytes, BLOCK_SIZE),
    sizeCalculation: (block) => Math.max(block.byteLength, 1),
  });
  return {
    get: (key) => lru.get(key),
    set: (key, block) => {
      lru.set(key, block);
    },
    inFlight: new Map(),
    stats: { requests: 0, bytes: 0, blockHits: 0, blockMisses: 0 },
    size: () => lru.calculatedSize,
  };
}

export function snapshotStats(stats: ByteStats): ByteStats {
  return { ...stats };
}
