import { afterAll, describe, expect, it } from 'vitest';
import { cacheKey } from '../src/cache/keys.js';
import { MemoryCacheStore } from '../src/cache/memory-store.js';
import { S3CacheStore } from '../src/cache/s3-store.js';
import type { CachedObject, CacheStore } from '../src/cache/store.js';
import { etagOf, TileCache } from '../src/cache/tile-cache.js';
import { createMetrics } from '../src/metrics.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from './helpers/s3.js';

const png = (text: string) => ({ body: new TextEncoder().encode(text), contentType: 'image/png' });

async function counterValue(metrics: ReturnType<typeof createMetrics>, name: 'cacheStoreFailures' | 'cacheRequests', label: Record<string, string>) {
  const data = await metrics[name].get();
  const entry = data.values.find((v) => Object.entries(label).every(([k, val]) => v.labels[k as keyof typeof v.labels] === val));
  return entry?.value ?? 0;
}

/** A store whose operations can be made to fail or stall, wrapping a real memory store. */
class FlakyStore implements CacheStore {
  readonly kind = 'memory' as const;
  failGet = false;
  failPut = false;
  stall = false;
  gets = 0;
  constructor(readonly inner = new MemoryCacheStore(1 << 20)) {}
  async get(key: string): Promise<CachedObject | undefined> {
    this.gets++;
    if (this.stall) await new Promise(() => undefined);
    if (this.failGet) throw new Error('store get down');
    return this.inner.get(key);
  }
  async put(key: string, object: CachedObject): Promise<void> {
    if (this.failPut) throw new Error('store put down');
    return this.inner.put(key, object);
  }
  async putIfAbsent(key: string, object: CachedObject): Promise<boolean> {
    if (this.failPut) throw new Error('store put down');
    return this.inner.putIfAbsent(key, object);
  }
}

describe('TileCache', () => {
  it('misses, then hits, with a strong ETag of the bytes', async () => {
    const metrics = createMetrics();
    const cache = new TileCache(new MemoryCacheStore(1 << 20), { metrics });
    let calls = 0;
    const produce = async () => {
      calls++;
      return png('tile-bytes');
    };
    const first = await cache.getOrCreate('k', produce);
    expect(first.status).toBe('miss');
    expect(first.object.etag).toBe(etagOf(new TextEncoder().encode('tile-bytes')));
    expect(first.object.etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    const second = await cache.getOrCreate('k', produce);
    expect(second.status).toBe('hit');
    expect(new TextDecoder().decode(second.object.body)).toBe('tile-bytes');
    expect(second.object.etag).toBe(first.object.etag);
    expect(calls).toBe(1);
    expect(await counterValue(metrics, 'cacheRequests', { result: 'miss' })).toBe(1);
    expect(await counterValue(metrics, 'cacheRequests', { result: 'hit' })).toBe(1);
  });

  it('runs produce once for N concurrent callers of a missing key', async () => {
    const store = new FlakyStore();
    const metrics = createMetrics();
    const cache = new TileCache(store, { metrics });
    let calls = 0;
    const produce = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 30));
      return png(`made-${calls}`);
    };
    const results = await Promise.all(Array.from({ length: 25 }, () => cache.getOrCreate('same', produce)));
    expect(calls).toBe(1);
    expect(store.gets).toBe(1);
    expect(new Set(results.map((r) => new TextDecoder().decode(r.object.body)))).toEqual(new Set(['made-1']));
    expect(results.every((r) => r.status === 'miss')).toBe(true);
    expect(await counterValue(metrics, 'cacheRequests', { result: 'miss' })).toBe(25);
    expect(cache.inflightCount).toBe(0);
    // Different keys are not serialised behind each other.
    const other = await Promise.all([cache.getOrCreate('x', produce), cache.getOrCreate('y', produce)]);
    expect(calls).toBe(3);
    expect(other.map((r) => r.status)).toEqual(['miss', 'miss']);
  });

  it('gives every waiter the error of a failed produce and caches nothing', async () => {
    const store = new FlakyStore();
    const cache = new TileCache(store);
    let calls = 0;
    const failing = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error('upstream exploded');
    };
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => cache.getOrCreate('bad', failing)));
    expect(calls).toBe(1);
    expect(settled.every((s) => s.status === 'rejected' && /upstream exploded/.test(String(s.reason)))).toBe(true);
    expect(await store.inner.get('bad')).toBeUndefined();
    // The next call tries again (errors are not remembered).
    const ok = await cache.getOrCreate('bad', async () => png('fine'));
    expect(ok.status).toBe('miss');
  });

  it('serves uncached with status bypass when the store fails or stalls, and counts it', async () => {
    const metrics = createMetrics();
    const store = new FlakyStore();
    const cache = new TileCache(store, { metrics, storeTimeoutMs: 100 });
    store.failGet = true;
    const a = await cache.getOrCreate('k1', async () => png('a'));
    expect(a.status).toBe('bypass');
    expect(new TextDecoder().decode(a.object.body)).toBe('a');
    expect(await counterValue(metrics, 'cacheStoreFailures', { operation: 'get' })).toBe(1);
    store.failGet = false;
    store.failPut = true;
    const b = await cache.getOrCreate('k2', async () => png('b'));
    expect(b.status).toBe('bypass');
    expect(await counterValue(metrics, 'cacheStoreFailures', { operation: 'put' })).toBe(1);
    store.failPut = false;
    store.stall = true;
    const started = Date.now();
    const c = await cache.getOrCreate('k3', async () => png('c'));
    expect(c.status).toBe('bypass');
    expect(Date.now() - started).toBeLessThan(2_000); // 100 ms timeout, generous for loaded CI
    expect(await counterValue(metrics, 'cacheStoreFailures', { operation: 'get' })).toBe(2);
    expect(await counterValue(metrics, 'cacheRequests', { result: 'bypass' })).toBe(3);
  });
});

describe('TileCache over a real s3rver that goes away and comes back', () => {
  let s3: S3Fixture | undefined;
  afterAll(async () => {
    await s3?.stop();
  });

  it('caches, bypasses while S3 is down, then caches again', async () => {
    s3 = await startS3();
    const metrics = createMetrics();
    const storeOptions = { bucket: s3.bucket, prefix: 'tiles-cache', region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 1 };
    const cache = new TileCache(new S3CacheStore({ ...storeOptions, endpoint: s3.endpoint }), { metrics, storeTimeoutMs: 2_000 });
    const key = cacheKey('tiles', { z: 1, x: 0, y: 0 }, 'png');

    expect((await cache.getOrCreate(key, async () => png('one'))).status).toBe('miss');
    const hit = await cache.getOrCreate(key, async () => png('never'));
    expect(hit.status).toBe('hit');
    expect(new TextDecoder().decode(hit.object.body)).toBe('one');
    expect(hit.object.contentType).toBe('image/png');

    const { port, directory } = s3;
    await s3.stop({ keepData: true });
    s3 = undefined;
    const down = await cache.getOrCreate(key, async () => png('while-down'));
    expect(down.status).toBe('bypass');
    expect(new TextDecoder().decode(down.object.body)).toBe('while-down');
    expect(await counterValue(metrics, 'cacheStoreFailures', { operation: 'get' })).toBe(1);
    expect(await counterValue(metrics, 'cacheStoreFailures', { operation: 'put' })).toBe(1);

    // Same port and data directory: the same client reconnects and finds the earlier object.
    s3 = await startS3({ port, directory });
    const back = await cache.getOrCreate(key, async () => png('never'));
    expect(back.status).toBe('hit');
    expect(new TextDecoder().decode(back.object.body)).toBe('one');
    const other = cacheKey('tiles', { z: 1, x: 1, y: 0 }, 'png');
    expect((await cache.getOrCreate(other, async () => png('two'))).status).toBe('miss');
    expect((await cache.getOrCreate(other, async () => png('never'))).status).toBe('hit');
  });
});
