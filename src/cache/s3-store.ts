import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from './s3-client.js';
import type { CachedObject, CacheStore } from './store.js';

export interface S3CacheStoreOptions {
  bucket: string;
  /** Key prefix without leading/trailing slash ('' for the bucket root). */
  prefix?: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Left out: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-attempt socket timeout: a hung store must not hang tile responses. */
  requestTimeoutMs?: number;
  maxAttempts?: number;
}

/**
 * Objects in an S3 (or S3-compatible: MinIO, R2, GCS interop) bucket. Bodies are sent as Buffers and checksums are
 * only computed when an operation requires them: several S3-compatible servers (s3rver among them) store the
 * aws-chunked trailer framing of the SDK's default streaming checksums as part of the object.
 * Our ETag travels as user metadata (x-amz-meta-etag) because S3's own ETag is not the hash we promise clients
 * (it differs for multipart uploads and SSE-KMS).
 */
export class S3CacheStore implements CacheStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;

  constructor(options: S3CacheStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.client = createS3Client({
      ...options,
      maxAttempts: options.maxAttempts ?? 2,
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
      connectionTimeoutMs: 2_000,
    });
  }

  async get(key: string): Promise<CachedObject | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      if (!response.Body) throw new Error(`S3CacheStore: empty response body for "${key}"`);
      const body = await response.Body.transformToByteArray();
      const etag = response.Metadata?.etag ?? response.ETag;
      if (!etag) throw new Error(`S3CacheStore: object "${key}" has no ETag`);
      return { body, contentType: response.ContentType ?? 'application/octet-stream', etag };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, object: CachedObject): Promise<void> {
    // A single PutObject is atomic in S3: readers see the old object or the new one.
    await this.client.send(this.putCommand(key, object));
  }

  async putIfAbsent(key: string, object: CachedObject): Promise<boolean> {
    try {
      await this.client.send(this.putCommand(key, object, '*'));
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
      // 412: the key exists; 409: a concurrent conditional write won the race (AWS ConditionalRequestConflict).
      if (status === 412 || status === 409) return false;
      throw error;
    }
  }

  private putCommand(key: string, object: CachedObject, ifNoneMatch?: string): PutObjectCommand {
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      Body: Buffer.from(object.body.buffer, object.body.byteOffset, object.body.byteLength),
      ContentLength: object.body.byteLength,
      ContentType: object.contentType,
      Metadata: { etag: object.etag },
      IfNoneMatch: ifNoneMatch,
    });
  }

  destroy(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
