import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from '../config.js';
import { FileObjectStore } from './file-objects.js';
import { MemoryObjectStore } from './memory-objects.js';
import { S3ObjectStore } from './s3-objects.js';

/**
 * Where jobs live: job documents, their results and virtual-collection definitions, as plain objects under
 * slash keys. More than the tile cache needs (CacheStore): listing for /jobs, deletion for dismiss, ranged reads
 * for serving results as COGs, and presigned URLs on S3. Every `put` is atomic (S3 PutObject; rename(2) for
 * files), so a reader sees a whole object or none, and any instance sharing the store answers for any job.
 */
export interface ObjectInfo {
  size: number;
  contentType: string;
}

export interface ObjectRange extends ObjectInfo {
  body: Uint8Array;
  /** First and last byte of `body` in the object. */
  start: number;
  end: number;
}

export interface ObjectStore {
  readonly kind: 's3' | 'file' | 'memory';
  get(key: string): Promise<{ body: Uint8Array; contentType: string } | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Bytes start..end (inclusive, clamped to the object); undefined when the object does not exist. */
  getRange(key: string, start: number, end: number): Promise<ObjectRange | undefined>;
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Names of the immediate children of `prefix` (which ends with "/"), in ascending byte order, strictly after
   * `after` when given, at most `limit`: a "directory" listing that pages without reading what it skips.
   */
  listChildren(prefix: string, options: { after?: string; limit: number }): Promise<string[]>;
  /** A time-limited URL for anyone to GET the object (S3 only). */
  presignGet?(key: string, expiresSeconds: number): Promise<string>;
}

type StoreConfig = Pick<Config, 'CACHE_URL' | 'S3_ENDPOINT' | 'S3_FORCE_PATH_STYLE' | 'AWS_REGION'> & { JOBS_URL?: string };

/**
 * JOBS_URL, or beside the cache when unset: a sibling folder `processes` of a file cache, the sub-prefix
 * `processes` of an S3 cache, its own memory store for a memory cache.
 */
export function jobsUrl(config: StoreConfig): string {
  if (config.JOBS_URL) return config.JOBS_URL;
  const cache = config.CACHE_URL;
  if (cache.startsWith('file://')) return pathToFileURL(join(dirname(fileURLToPath(cache)), 'processes')).href;
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(cache);
  if (s3) return `s3://${s3[1]}/${s3[2].replace(/\/+$/, '') ? `${s3[2].replace(/\/+$/, '')}/` : ''}processes`;
  return 'memory://';
}

export function createObjectStore(config: StoreConfig): ObjectStore {
  const url = jobsUrl(config);
  if (url.startsWith('memory://')) return new MemoryObjectStore();
  if (url.startsWith('file://')) return new FileObjectStore(fileURLToPath(url));
  const s3 = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (s3) {
    return new S3ObjectStore({
      bucket: s3[1],
      prefix: s3[2] ?? '',
      region: config.AWS_REGION,
      endpoint: config.S3_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    });
  }
  throw new Error(`JOBS_URL "${url}" must be file:///path, s3://bucket[/prefix] or memory://`);
}
