/** What a cache keeps: bytes plus what the HTTP layer needs to answer with them. */
export interface CachedObject {
  body: Uint8Array;
  contentType: string;
  /** Strong validator of the bytes (quoted, as sent in the ETag header). */
  etag: string;
}

/**
 * A place to keep rendered tiles and generated chips. Implementations: S3, local files, memory LRU.
 * `put` is atomic: a concurrent `get` sees the whole old object, the whole new one, or nothing.
 * Both methods throw on store failures; callers decide whether that is fatal (for tiles it is not).
 */
export interface CacheStore {
  readonly kind: 's3' | 'file' | 'memory';
  get(key: string): Promise<CachedObject | undefined>;
  put(key: string, object: CachedObject): Promise<void>;
  /**
   * Creates the object only if the key has none: true when this call created it, false when one was there.
   * Atomic where the backend enforces create-only writes (files, memory, S3/R2/MinIO `If-None-Match: *`);
   * s3rver ignores that header, so callers that depend on it probe first (src/generation/leases.ts).
   */
  putIfAbsent(key: string, object: CachedObject): Promise<boolean>;
}
