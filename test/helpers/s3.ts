import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error s3rver ships no type declarations
import S3rver from 's3rver';

/** Credentials s3rver accepts (it checks signatures against this fixed pair). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3Fixture {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  port: number;
  directory: string;
  /** Stops the server; `keepData` leaves the directory so a new server on it sees the same objects. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * A real s3rver on loopback (port 0 unless given, e.g. to restart on the same port), over a temp directory,
 * with one bucket. Use path-style addressing and S3RVER_CREDENTIALS.
 */
export async function startS3(options: { bucket?: string; port?: number; directory?: string } = {}): Promise<S3Fixture> {
  const bucket = options.bucket ?? 'tiles';
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'tmogc-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    port: address.port,
    directory,
    async stop(stopOptions = {}) {
      // Drop keep-alive sockets too, or close() waits for idle clients.
      (server.httpServer as import('node:http').Server | undefined)?.closeAllConnections?.();
      await server.close();
      if (!stopOptions.keepData) await rm(directory, { recursive: true, force: true });
    },
  };
}
