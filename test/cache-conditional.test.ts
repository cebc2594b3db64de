import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCacheStore } from '../src/cache/file-store.js';
import { MemoryCacheStore } from '../src/cache/memory-store.js';
import { S3CacheStore } from '../src/cache/s3-store.js';
import type { CacheStore } from '../src/cache/store.js';
import { etagOf } from '../src/cache/tile-cache.js';
import { ChipLeases } from '../src/generation/leases.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from './helpers/s3.js';

/**
 * Create-only writes (putIfAbsent) on every store, and what the chip leases make of them: a store that enforces
 * them gets one-write leases, s3rver (which ignores If-None-Match) is found out by the probe and gets the
 * write-settle-read-back lease.
 */
const object = (text: string) => {
  const body = new TextEncoder().encode(text);
  return { body, contentType: 'text/plain', etag: etagOf(body) };
};

let s3: S3Fixture;
let dir: string;
const stores: Record<string, () => CacheStore> = {};

beforeAll(async () => {
  s3 = await startS3({ bucket: 'leases' });
  dir = await mkdtemp(join(tmpdir(), 'tmogc-conditional-'));
  stores.file = () => new FileCacheStore(dir);
  stores.memory = () => new MemoryCacheStore(1 << 20);
  stores.s3rver = () =>
    new S3CacheStore({ bucket: 'leases', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
});
afterAll(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('create-only writes', () => {
  it.each(['file', 'memory'])('%s: the first create wins, the second leaves the object as it was', async (name) => {
    const store = stores[name]!();
    expect(await store.putIfAbsent('chip/a.lease', object('first'))).toBe(true);
    expect(await store.putIfAbsent('chip/a.lease', object('second'))).toBe(false);
    expect(new TextDecoder().decode((await store.get('chip/a.lease'))!.body)).toBe('first');
  });

  it('s3rver accepts the If-None-Match header but does not enforce it (overwrites)', async () => {
    const store = stores.s3rver!();
    expect(await store.putIfAbsent('chip/b.lease', object('first'))).toBe(true);
    expect(await store.putIfAbsent('chip/b.lease', object('second'))).toBe(true);
    expect(new TextDecoder().decode((await store.get('chip/b.lease'))!.body)).toBe('second');
  });
});

describe('chip leases', () => {
  const leases = (store: CacheStore, owner: string) => new ChipLeases(store, { owner, ttlMs: 60_000, settleMs: 50 });

  it.each([
    ['file', true],
    ['memory', true],
    ['s3rver', false],
  ])('%s: the probe finds conditional writes = %s, and one of two instances gets the lease', async (name, enforced) => {
    const store = stores[name]!();
    const a = leases(store, `a-${name}`);
    const b = leases(store, `b-${name}`);
    expect(await a.hasConditionalWrites()).toBe(enforced);
    const key = `chip/${name}-one`;
    expect(await a.acquire(key)).toBe(true);
    expect(await b.acquire(key)).toBe(false);
    expect(await b.heldByOther(key)).toBe(true);
    // Released: the other instance may take it (e.g. to regenerate a chip the store lost).
    await a.release(key);
    expect(await b.heldByOther(key)).toBe(false);
    expect(await b.acquire(key)).toBe(true);
    expect(await a.heldByOther(key)).toBe(true);
  });

  it('an expired lease (its instance died) is taken over', async () => {
    const store = stores.file!();
    const dead = new ChipLeases(store, { owner: 'dead', ttlMs: 1, settleMs: 0 });
    expect(await dead.acquire('chip/expired')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await leases(store, 'alive').acquire('chip/expired')).toBe(true);
  });
});
