import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import { FileCacheStore } from './file-store.js';
import { MemoryCacheStore } from './memory-store.js';
import { S3CacheStore } from './s3-store.js';
import type { CacheStore } from './store.js';

/**
 * CACHE_URL -> store: file:///abs/path, s3://bucket[/prefix] (S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION and the
 * standard AWS credential variables), memory:// (CACHE_MEMORY_MAX_BYTES).
 */
export function createCacheStore(config: Pick<Config, 'CACHE_URL' | 'CACHE_MEMORY_MAX_BYTES' | 'S3_ENDPOINT' | 'S3_FORCE_PATH_STYLE' | 'AWS_REGION'>): CacheStore {
  const url = config.CACHE_URL;
  if (url.startsWith('memory://')) return new MemoryCacheStore(config.CACHE_MEMORY_MAX_BYTES);
  if (url.startsWith('file://')) return new FileCacheStore(fileURLToPath(url));
  const s3 = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (s3) {
    return new S3CacheStore({
      bucket: s3[1],
      prefix: s3[2] ?? '',
      region: config.AWS_REGION,
      endpoint: config.S3_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    });
  }
  throw new Error(`CACHE_URL "${url}" must be file:///path, s3://bucket[/prefix] or memory://`);
}
