import { S3Client } from '@aws-sdk/client-s3';

/**
 * The S3 client settings every store of ours uses (tile cache, job store): checksums only where an operation
 * requires them (several S3-compatible servers, s3rver among them, store the aws-chunked trailer of the SDK's
 * default streaming checksums inside the object) and bounded timeouts, so a hung store cannot hang a request.
 */
export interface S3ClientOptions {
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Left out: the SDK's default chain (AWS_* variables, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
}

export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { requestTimeout: options.requestTimeoutMs, connectionTimeout: options.connectionTimeoutMs },
  });
}
