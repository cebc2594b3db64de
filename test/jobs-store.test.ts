import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { FileObjectStore } from '../src/jobs/file-objects.js';
import { MemoryObjectStore } from '../src/jobs/memory-objects.js';
import { createObjectStore, jobsUrl, type ObjectStore } from '../src/jobs/object-store.js';
import { S3ObjectStore } from '../src/jobs/s3-objects.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from './helpers/s3.js';

/** The three job stores against one behaviour list; S3 is a real s3rver on loopback. */
function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
}

async function behaves(store: ObjectStore): Promise<void> {
  expect(await store.get('jobs/a/status.json')).toBeUndefined();
  expect(await store.head('jobs/a/status.json')).toBeUndefined();
  expect(await store.getRange('jobs/a/results/X.tif', 0, 9)).toBeUndefined();

  const cog = bytes(100_000, 1);
  await store.put('jobs/a/results/LULC.tif', cog, 'image/tiff; application=geotiff; profile=cloud-optimized');
  await store.put('jobs/a/status.json', new TextEncoder().encode('{"n":1}'), 'application/json');
  await store.put('jobs/b/status.json', new TextEncoder().encode('{"n":2}'), 'application/json');
  await store.put('jobs/c/status.json', new TextEncoder().encode('{"n":3}'), 'application/json');

  expect(new TextDecoder().decode((await store.get('jobs/a/status.json'))!.body)).toBe('{"n":1}');
  expect(await store.head('jobs/a/results/LULC.tif')).toEqual({ size: 100_000, contentType: 'image/tiff; application=geotiff; profile=cloud-optimized' });

  const range = (await store.getRange('jobs/a/results/LULC.tif', 1000, 1999))!;
  expect([range.start, range.end, range.size, range.body.length]).toEqual([1000, 1999, 100_000, 1000]);
  expect(Array.from(range.body.subarray(0, 3))).toEqual([(1000 * 13 + 1) & 0xff, (1001 * 13 + 1) & 0xff, (1002 * 13 + 1) & 0xff]);
  // A range past the end is clamped to the last byte.
  const tail = (await store.getRange('jobs/a/results/LULC.tif', 99_990, 200_000))!;
  expect([tail.start, tail.end, tail.body.length]).toEqual([99_990, 99_999, 10]);

  expect(await store.listChildren('jobs/', { limit: 10 })).toEqual(['a', 'b', 'c']);
  expect(await store.listChildren('jobs/', { after: 'a', limit: 1 })).toEqual(['b']);
  expect(await store.listChildren('jobs/', { after: 'c', limit: 10 })).toEqual([]);
  expect(await store.listChildren('jobs/a/', { limit: 10 })).toEqual(['results', 'status.json']);

  await store.deletePrefix('jobs/a/results/');
  expect(await store.head('jobs/a/results/LULC.tif')).toBeUndefined();
  expect(await store.head('jobs/a/status.json')).toBeDefined();
  await store.delete('jobs/b/status.json');
  await store.delete('jobs/b/status.json');
  expect(await store.listChildren('jobs/', { limit: 10 })).toEqual(['a', 'c']);
}

describe('job stores', () => {
  let s3: S3Fixture;
  let dir: string;
  beforeAll(async () => {
    s3 = await startS3({ bucket: 'jobs' });
    dir = await mkdtemp(join(tmpdir(), 'tmogc-jobs-'));
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('memory', async () => {
    await behaves(new MemoryObjectStore());
  });

  it('file: plain files, no temp files left behind', async () => {
    const store = new FileObjectStore(join(dir, 'store'));
    await behaves(store);
    // deletePrefix removed the results folder itself; no temp file of an atomic write is left.
    expect(await readdir(join(dir, 'store/jobs/a'))).toEqual(['status.json']);
    expect(await readdir(join(dir, 'store/jobs/c'))).toEqual(['status.json']);
  });

  it('s3 (s3rver), with presigned GETs that work without credentials', async () => {
    const store = new S3ObjectStore({ bucket: 'jobs', prefix: 'p/processes', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    await behaves(store);
    await store.put('jobs/z/results/DEM.tif', bytes(5000, 2), 'image/tiff');
    const url = await store.presignGet('jobs/z/results/DEM.tif', 600);
    expect(url).toContain('X-Amz-Signature=');
    const plain = await fetch(url);
    expect(plain.status).toBe(200);
    expect(Buffer.from(await plain.arrayBuffer()).equals(Buffer.from(bytes(5000, 2)))).toBe(true);
    const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(Array.from(new Uint8Array(await ranged.arrayBuffer()))).toEqual(Array.from(bytes(5000, 2).subarray(10, 20)));
    store.destroy();
  });

  it('JOBS_URL defaults beside the cache', () => {
    const config = (env: Record<string, string>) => loadConfig({ LOG_LEVEL: 'silent', ...env });
    expect(jobsUrl(config({ CACHE_URL: 'file:///var/cache/tmogc/tiles' }))).toBe('file:///var/cache/tmogc/processes');
    expect(jobsUrl(config({ CACHE_URL: 's3://bucket/cache' }))).toBe('s3://bucket/cache/processes');
    expect(jobsUrl(config({ CACHE_URL: 's3://bucket' }))).toBe('s3://bucket/processes');
    expect(jobsUrl(config({ CACHE_URL: 'memory://' }))).toBe('memory://');
    expect(jobsUrl(config({ CACHE_URL: 'memory://', JOBS_URL: pathToFileURL(dir).href }))).toBe(pathToFileURL(dir).href);
    expect(createObjectStore(config({ CACHE_URL: 'memory://' })).kind).toBe('memory');
    expect(() => config({ JOBS_URL: 'ftp://x' })).toThrow(/JOBS_URL/);
    expect(() => config({ JOB_HEARTBEAT_MS: '10000', JOB_STALE_MS: '15000' })).toThrow(/JOB_STALE_MS must be more than twice JOB_HEARTBEAT_MS/);
  });
});
