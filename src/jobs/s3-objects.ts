import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createS3Client } from '../cache/s3-client.js';
import type { ObjectInfo, ObjectRange, ObjectStore } from './object-store.js';

export interface S3ObjectStoreOptions {
  bucket: string;
  prefix?: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Job objects in an S3 (or S3-compatible) bucket under a prefix. Client settings as the tile cache's
 * (src/cache/s3-store.ts): checksums only where an operation requires them, bounded timeouts; the timeout is
 * longer here because result COGs are bigger than tiles.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.client = createS3Client({ ...options, maxAttempts: 3, requestTimeoutMs: 60_000, connectionTimeoutMs: 5_000 });
  }

  async get(key: string) {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { body: await response.Body!.transformToByteArray(), contentType: response.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { size: response.ContentLength ?? 0, contentType: response.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async getRange(key: string, start: number, end: number): Promise<ObjectRange | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), Range: `bytes=${start}-${end}` }));
      const body = await response.Body!.transformToByteArray();
      const total = /\/(\d+)$/.exec(response.ContentRange ?? '');
      const size = total ? Number(total[1]) : body.byteLength;
      return { body, start, end: start + body.byteLength - 1, size, contentType: response.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(key),
        Body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        ContentLength: body.byteLength,
        ContentType: contentType,
      }),
    );
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  async deletePrefix(prefix: string): Promise<void> {
    // One DeleteObject per key: DeleteObjects needs a Content-MD5 that several S3-compatible servers check
    // differently, and a job has a handful of objects.
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token }));
      await Promise.all((page.Contents ?? []).map((object) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key! }))));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async listChildren(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    const full = this.key(prefix);
    const page = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: full,
        Delimiter: '/',
        MaxKeys: options.limit,
        // Past every key under "<after>/": U+FFFF sorts after any character a key of ours contains.
        StartAfter: options.after === undefined ? undefined : `${full}${options.after}/\uffff`,
      }),
    );
    const names = [
      ...(page.CommonPrefixes ?? []).map((entry) => entry.Prefix!.slice(full.length).replace(/\/$/, '')),
      ...(page.Contents ?? []).map((entry) => entry.Key!.slice(full.length)),
    ];
    return names.filter((name) => options.after === undefined || name > options.after).sort().slice(0, options.limit);
  }

  presignGet(key: string, expiresSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), { expiresIn: expiresSeconds });
  }

  destroy(): void {
    this.client.destroy();
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
