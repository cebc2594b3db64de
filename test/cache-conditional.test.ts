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

  it('on a store with create-only writes a free lease is one conditional write: no read, no settle wait', async () => {
    const inner = new MemoryCacheStore(1024 * 1024);
    const calls: string[] = [];
    const counted: CacheStore = {
      kind: 'memory',
      get: (key) => (calls.push(`get ${key}`), inner.get(key)),
      put: (key, value) => (calls.push(`put ${key}`), inner.put(key, value)),
      putIfAbsent: (key, value) => (calls.push(`putIfAbsent ${key}`), inner.putIfAbsent(key, value)),
    } as CacheStore;
    // A settle time no test could sit through: the conditional path must not wait for it.
    const a = new ChipLeases(counted, { owner: 'a', ttlMs: 60_000, settleMs: 3_600_000 });
    expect(await a.hasConditionalWrites()).toBe(true);
    calls.length = 0;
    expect(await a.acquire('chip/counted')).toBe(true);
    expect(calls).toEqual(['putIfAbsent chip/counted.lease']);
    // Taken by another owner: one failed create and one read, then no.
    const b = new ChipLeases(counted, { owner: 'b', ttlMs: 60_000, settleMs: 3_600_000 });
    await b.hasConditionalWrites();
    calls.length = 0;
    expect(await b.acquire('chip/counted')).toBe(false);
    expect(calls).toEqual(['putIfAbsent chip/counted.lease', 'get chip/counted.lease']);
    // The holder asking again keeps it (one failed create, one read, one rewrite).
    calls.length = 0;
    expect(await a.acquire('chip/counted')).toBe(true);
    expect(calls).toEqual(['putIfAbsent chip/counted.lease', 'get chip/counted.lease', 'put chip/counted.lease']);
  });

  it('reads a lease only when it is well formed, and a lease is live until the moment it expires', async () => {
    const store = new MemoryCacheStore(1024 * 1024);
    const b = leases(store, 'b');
    const write = (key: string, body: unknown) => store.put(`${key}.lease`, object(typeof body === 'string' ? body : JSON.stringify(body)));
    await write('chip/garbage', 'not json');
    await write('chip/no-owner', { expiresAt: Date.now() + 60_000 });
    await write('chip/no-expiry', { owner: 'a' });
    await write('chip/string-expiry', { owner: 'a', expiresAt: String(Date.now() + 60_000) });
    await write('chip/live', { owner: 'a', expiresAt: Date.now() + 60_000 });
    await write('chip/released', { owner: 'a', expiresAt: Date.now() + 60_000, released: true });
    await write('chip/expired', { owner: 'a', expiresAt: Date.now() - 1 });
    const held = async (key: string) => b.heldByOther(key);
    expect(await Promise.all(['chip/garbage', 'chip/no-owner', 'chip/no-expiry', 'chip/string-expiry'].map(held))).toEqual([false, false, false, false]);
    expect(await Promise.all(['chip/live', 'chip/released', 'chip/expired', 'chip/none'].map(held))).toEqual([true, false, false, false]);
    // Its own lease is not "held by another".
    expect(await leases(store, 'a').heldByOther('chip/live')).toBe(false);
  });

  it('each probe writes a fresh key, and a store where the first create-only write fails is not trusted', async () => {
    const inner = new MemoryCacheStore(1024 * 1024);
    const keys: string[] = [];
    let answers = [false, false];
    const store = {
      kind: 'memory',
      get: (key: string) => inner.get(key),
      put: (key: string, value: never) => inner.put(key, value),
      putIfAbsent: async (key: string) => (keys.push(key), answers.shift() ?? true),
    } as unknown as CacheStore;
    expect(await new ChipLeases(store, { owner: 'p q', ttlMs: 1, settleMs: 0 }).hasConditionalWrites()).toBe(false);
    expect(keys).toEqual(['lease-probe/p%20q-1', 'lease-probe/p%20q-1']);
    answers = [true, false];
    const probe = new ChipLeases(store, { owner: 'p', ttlMs: 1, settleMs: 0 });
    expect(await probe.hasConditionalWrites()).toBe(true);
    expect(await probe.hasConditionalWrites()).toBe(true); // probed once
    expect(keys.slice(2)).toEqual(['lease-probe/p-1', 'lease-probe/p-1']);
  });

  it('an expired lease (its instance died) is taken over', async () => {
    const store = stores.file!();
    const dead = new ChipLeases(store, { owner: 'dead', ttlMs: 1, settleMs: 0 });
    expect(await dead.acquire('chip/expired')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await leases(store, 'alive').acquire('chip/expired')).toBe(true);
  });
});
