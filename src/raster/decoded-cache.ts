import type { GeoTIFFImage } from 'geotiff';
import { LRUCache } from 'lru-cache';

/**
 * Decoded internal tiles/strips, shared across requests (LRU by bytes). Neighbouring map tiles usually fall
 * in the same internal COG tile (1024 px for Sentinel-2), which would otherwise be inflated and un-predicted
 * again for each of them. Only finished decodes are cached, so one caller's abort never fails another.
 */
export interface DecodedTileCache {
  lru: LRUCache<string, ArrayBufferLike>;
  hits: number;
  misses: number;
}

export function createDecodedTileCache(maxBytes: number = 128 * 1024 * 1024): DecodedTileCache {
  const maxSize = Math.max(maxBytes, 1);
  return {
    // A block over an eighth of the budget (a whole-image strip, a bomb that was allowed) is not kept: it
    // would evict everything else for one file.
    lru: new LRUCache<string, ArrayBufferLike>({ maxSize, maxEntrySize: Math.max(1, Math.floor(maxSize / 8)), sizeCalculation: (data) => Math.max(data.byteLength, 1) }),
    hits: 0,
    misses: 0,
  };
}

type GetTileOrStrip = GeoTIFFImage['getTileOrStrip'];

/** Which cache (and key prefix) an image's blocks are kept under, for read planning. */
const cachedImages = new WeakMap<GeoTIFFImage, { cache: DecodedTileCache; keyPrefix: string }>();

function blockKey(keyPrefix: string, planar: number, x: number, y: number, sample: number): string {
  // With interleaved pixels (planar 1) one block holds every sample, so the sample is not part of the key.
  return `${keyPrefix}|${x},${y},${planar === 2 ? sample : 0}`;
}

/** True when block (x, y[, sample]) of `image` is decoded already, so a read would not decode it again. */
export function isBlockCached(image: GeoTIFFImage, x: number, y: number, sample: number): boolean {
  const entry = cachedImages.get(image);
  return entry !== undefined && entry.cache.lru.has(blockKey(entry.keyPrefix, image.planarConfiguration, x, y, sample));
}

/**
 * Routes one image's tile decoding through the cache. geotiff.js only reads the returned buffer (it copies
 * the window out of it), so a cached buffer can be handed to several reads.
 */
export function cacheDecodedTiles(image: GeoTIFFImage, keyPrefix: string, cache: DecodedTileCache): void {
  const original: GetTileOrStrip = image.getTileOrStrip.bind(image);
  const planar = image.planarConfiguration;
  cachedImages.set(image, { cache, keyPrefix });
  const patched: GetTileOrStrip = async (x, y, sample, decoder, signal) => {
    const key = blockKey(keyPrefix, planar, x, y, sample);
    const data = cache.lru.get(key);
    if (data) {
      cache.hits++;
      return { x, y, sample, data };
    }
    cache.misses++;
    const result = await original(x, y, sample, decoder, signal);
    cache.lru.set(key, result.data);
    return result;
  };
  image.getTileOrStrip = patched;
}
