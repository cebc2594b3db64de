import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createCacheStore } from '../src/cache/create.js';
import { FileCacheStore } from '../src/cache/file-store.js';
import { MemoryCacheStore } from '../src/cache/memory-store.js';
import { S3CacheStore } from '../src/cache/s3-store.js';
import type { CachedObject, CacheStore } from '../src/cache/store.js';
import { etagOf } from '../src/cache/tile-cache.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from './helpers/s3.js';

function objectOf(bytes: number, seed: number, contentType = 'image/png'): CachedObject {
  const body = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) body[i] = (i * 31 + seed * 7) & 0xff;
  return { body, contentType, etag: etagOf(body) };
}

async function roundTrip(store: CacheStore): Promise<void> {
  expect(await store.get('tiles/v1/ab/missing.png')).toBeUndefined();
  const object = objectOf(70_001, 3, 'image/webp');
  await store.put('tiles/v1/ab/one.webp', object);
  const back = await store.get('tiles/v1/ab/one.webp');
  expect(back).toBeDefined();
  expect(back!.contentType).toBe('image/webp');
  expect(back!.etag).toBe(object.etag);
  expect(Buffer.from(back!.body).equals(Buffer.from(object.body))).toBe(true);
  // Overwrite replaces bytes and metadata together.
  const second = objectOf(10, 9, 'image/jpeg');
  await store.put('tiles/v1/ab/one.webp', second);
  const again = await store.get('tiles/v1/ab/one.webp');
  expect(again!.contentType).toBe('image/jpeg');
  expect(again!.etag).toBe(second.etag);
  expect(Array.from(again!.body)).toEqual(Array.from(second.body));
}

describe('memory store', () => {
  it('round-trips objects', async () => {
    await roundTrip(new MemoryCacheStore(1024 * 1024));
  });

  it('evicts least recently used objects by bytes', async () => {
    const store = new MemoryCacheStore(4_000);
    await store.put('a', objectOf(1_000, 1));
    await store.put('b', objectOf(1_000, 2));
    await store.put('c', objectOf(1_000, 3));
    expect(await store.get('a')).toBeDefined(); // a is now most recent; b is the oldest
    await store.put('d', objectOf(1_000, 4)); // each entry costs 1000 B + key + type + 256 overhead: a fourth one evicts b
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toBeDefined();
    expect(await store.get('c')).toBeDefined();
    expect(await store.get('d')).toBeDefined();
    expect(store.sizeBytes).toBeLessThanOrEqual(4_000);
    // An object bigger than the whole budget is not kept and evicts nothing.
    await store.put('huge', objectOf(10_000, 5));
    expect(await store.get('huge')).toBeUndefined();
    expect(await store.get('d')).toBeDefined();
  });
});

describe('file store', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tmogc-filecache-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('round-trips objects and leaves no temp files', async () => {
    const store = new FileCacheStore(root);
    await roundTrip(store);
    expect(await readdir(join(root, 'tiles/v1/ab'))).toEqual(['one.webp']);
  });

  it('rejects keys that escape the root', async () => {
    const store = new FileCacheStore(root);
    await expect(store.get('../outside.png')).rejects.toThrow(/invalid key/);
    await expect(store.put('/etc/passwd', objectOf(1, 1))).rejects.toThrow(/invalid key/);
  });

  it('a reader racing writers never sees a partial object', async () => {
    const store = new FileCacheStore(root);
    const key = 'race/ab/object.png';
    // Large enough that a non-atomic write would be observable mid-way.
    const versions = [objectOf(4_000_000, 1), objectOf(3_000_000, 2, 'image/webp')];
    await store.put(key, versions[0]);
    // Counted, not timed, so a loaded CI machine changes the duration and not the outcome.
    let writes = 0;
    let reads = 0;
    let writerDone = false;
    const writer = (async () => {
      for (; writes < 12; writes++) await store.put(key, versions[writes % 2]);
      writerDone = true;
    })();
    const reader = (async () => {
      while (!writerDone || reads < 5) {
        const seen = await store.get(key);
        expect(seen).toBeDefined();
        const match = versions.find((v) => v.etag === seen!.etag);
        expect(match).toBeDefined();
        expect(seen!.body.byteLength).toBe(match!.body.byteLength);
        expect(etagOf(seen!.body)).toBe(seen!.etag);
        expect(seen!.contentType).toBe(match!.contentType);
        reads++;
      }
    })();
    await Promise.all([writer, reader]);
    expect(writes).toBe(12);
    expect(reads).toBeGreaterThanOrEqual(5);
    expect((await readdir(join(root, 'race/ab'))).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('S3 store against s3rver', () => {
  let s3: S3Fixture;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('round-trips objects under a prefix with content type and etag metadata', async () => {
    const store = new S3CacheStore({
      bucket: s3.bucket,
      prefix: 'cache/one/',
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });
    await roundTrip(store);
    const files = await readdir(join(s3.directory, s3.bucket), { recursive: true });
    expect(files.some((name) => String(name).startsWith('cache/one/tiles/v1/ab/one.webp'))).toBe(true);
    store.destroy();
  });

  it('is what createCacheStore builds for s3:// URLs, with credentials from the environment', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    try {
      const config = loadConfig({ CACHE_URL: `s3://${s3.bucket}/viaconfig`, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'true' });
      const store = createCacheStore(config);
      expect(store.kind).toBe('s3');
      await roundTrip(store);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });
});

describe('createCacheStore', () => {
  it('maps file:// and memory:// URLs', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tmogc-create-'));
    const file = createCacheStore(loadConfig({ CACHE_URL: pathToFileURL(root).href }));
    expect(file).toBeInstanceOf(FileCacheStore);
    expect((file as FileCacheStore).root).toBe(root);
    const memory = createCacheStore(loadConfig({ CACHE_URL: 'memory://', CACHE_MEMORY_MAX_BYTES: '5000' }));
    expect(memory).toBeInstanceOf(MemoryCacheStore);
    expect((memory as MemoryCacheStore).maxBytes).toBe(5000);
    await rm(root, { recursive: true, force: true });
  });
});
