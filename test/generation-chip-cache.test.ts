import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileCacheStore } from '../src/cache/file-store.js';
import { MemoryCacheStore } from '../src/cache/memory-store.js';
import type { CachedObject, CacheStore } from '../src/cache/store.js';
import { etagOf } from '../src/cache/tile-cache.js';
import { ChipCache, type ChipCacheOptions } from '../src/generation/chip-cache.js';
import { decodeChip, encodeChip, type ChipValues } from '../src/generation/chip-codec.js';
import { ChipLeases } from '../src/generation/leases.js';
import { createLogger, type Logger } from '../src/logger.js';

/**
 * The chip cache on its own (src/generation/chip-cache.ts): decoded chips in a byte-bounded LRU, encoded chips in
 * the shared store, and the cross-instance lease around a generation. Two ChipCache instances over one store, each
 * with its own ChipLeases owner, stand for two service instances; faults are injected into a real MemoryCacheStore.
 * Handed-out values are always the codec's decoded form, so every chip here has values int16 cannot keep exactly.
 */

/** A 4 x 3 chip, two bands; band 0 spans ~1000, so 0.1, 0.7333 and -3.14159 do not survive the codec exactly. */
function chip(seed = 0): ChipValues {
  const band0 = Float32Array.from([0.1, 0.7333, -3.14159, 1000, 12.5, 250.25, -0.5, 3.3, 99.9, 500.01, 7.77, 42.42], (v) => v + seed);
  const band1 = Float32Array.from({ length: 12 }, (_, p) => Math.sin(p + seed) * 17.3);
  // Pixel 5 invalid: the codec stores 0 there.
  const mask = Uint8Array.from({ length: 12 }, (_, p) => (p === 5 ? 0 : 255));
  return { width: 4, height: 3, bands: [band0, band1], mask };
}

/** Bytes a decoded chip() counts against the memory budget: mask 12 + two Float32 bands 2 * 12 * 4 + 256. */
const CHIP_BYTES = 12 + 96 + 256;

const decoded = (raw: ChipValues) => decodeChip(encodeChip(raw));

/** What callers get: the codec's values, which differ from the raw floats. */
function expectDecodedOf(values: ChipValues | undefined, raw: ChipValues): void {
  expect(values).toEqual(decoded(raw));
  expect(values!.bands[0]).not.toEqual(raw.bands[0]);
  expect(values!.bands[0]![5]).toBe(0);
}

let nonce = 0;
/** A fresh key per call, so no state of an earlier test can stand in for this one's. */
const freshKey = (name: string) => `chips/${name}-${process.pid}-${(nonce += 1)}`;

type Op = 'get' | 'put' | 'putIfAbsent';
type Hook = (op: Op, key: string, nth: number) => void | Promise<void>;

/**
 * A real MemoryCacheStore (the shared bucket) with a hook before each call: the hook throws to inject a fault, or
 * acts as the other instance at a chosen moment. `nth` counts calls of that op on that key, from 1.
 */
class HookedStore implements CacheStore {
  readonly kind = 'memory' as const;
  readonly calls: string[] = [];
  hook: Hook = () => undefined;

  constructor(readonly bucket: MemoryCacheStore) {}

  count(op: Op, key: string): number {
    return this.calls.filter((call) => call === `${op} ${key}`).length;
  }

  async get(key: string): Promise<CachedObject | undefined> {
    await this.before('get', key);
    return this.bucket.get(key);
  }

  async put(key: string, object: CachedObject): Promise<void> {
    await this.before('put', key);
    return this.bucket.put(key, object);
  }

  async putIfAbsent(key: string, object: CachedObject): Promise<boolean> {
    await this.before('putIfAbsent', key);
    return this.bucket.putIfAbsent(key, object);
  }

  private async before(op: Op, key: string): Promise<void> {
    this.calls.push(`${op} ${key}`);
    await this.hook(op, key, this.count(op, key));
  }
}

/** A hook that fails every `op` on `key` with `message`. */
const failOn =
  (op: Op, key: string, message = 'store fault'): Hook =>
  (o, k) => {
    if (o === op && k === key) throw new Error(message);
  };

/** A real pino logger writing into an array; warnings() are its level-40 lines, reduced to what the code logs. */
function recordingLogger() {
  const lines: Record<string, any>[] = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line)) });
  const warnings = () =>
    lines.filter((line) => line.level === 40).map((line) => ({ msg: line.msg, key: line.key, store: line.store, error: line.err?.message }));
  return { logger, warnings };
}

const LEASES = { ttlMs: 60_000, settleMs: 5 };

function instance(store: CacheStore, owner: string, options: Partial<ChipCacheOptions> = {}, logger?: Logger) {
  const leases = new ChipLeases(store, { owner, ...LEASES });
  const cache = new ChipCache(store, leases, { memoryBytes: 1 << 20, leaseWaitMs: 1000, pollMs: 50, ...options }, logger);
  return { cache, leases };
}

/**
 * Instance a (under test, through the hooked store, with a recording logger) and instance b (the other service
 * instance: same bucket, its own lease owner, no faults).
 */
function twoInstances(options: Partial<ChipCacheOptions> = {}) {
  const bucket = new MemoryCacheStore(1 << 20);
  const store = new HookedStore(bucket);
  const log = recordingLogger();
  return { bucket, store, log, a: instance(store, 'a', options, log.logger), b: instance(bucket, 'b') };
}

const generator = (raw: ChipValues) => vi.fn(async () => raw);

const chipObject = (raw: ChipValues): CachedObject => {
  const body = encodeChip(raw);
  return { body, contentType: 'application/vnd.terramind-ogc.chip', etag: etagOf(body) };
};

async function leaseOf(store: CacheStore, key: string): Promise<{ owner: string; released?: boolean } | undefined> {
  const object = await store.get(`${key}.lease`);
  return object && JSON.parse(new TextDecoder().decode(object.body));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('decoded chips in memory', () => {
  it('holds nothing before a chip is loaded or produced, then the very object that was handed out', async () => {
    const { bucket, a } = twoInstances();
    const [stored, produced] = [freshKey('stored'), freshKey('produced')];
    expect(a.cache.inMemory(stored)).toBeUndefined();
    expect(a.cache.inMemory(produced)).toBeUndefined();
    await bucket.put(stored, chipObject(chip(1)));
    const loaded = await a.cache.load(stored);
    expect(a.cache.inMemory(stored)).toBe(loaded);
    const { values } = await a.cache.produce(produced, generator(chip(2)));
    expect(a.cache.inMemory(produced)).toBe(values);
    expectDecodedOf(a.cache.inMemory(produced), chip(2));
  });

  it('counts a chip as mask + bands + 256 bytes: a budget of one chip keeps one, and the next chip evicts it', async () => {
    const { a } = twoInstances({ memoryBytes: CHIP_BYTES });
    const [first, second] = [freshKey('first'), freshKey('second')];
    await a.cache.produce(first, generator(chip(1)));
    expectDecodedOf(a.cache.inMemory(first), chip(1));
    await a.cache.produce(second, generator(chip(2)));
    expect(a.cache.inMemory(first)).toBeUndefined();
    expectDecodedOf(a.cache.inMemory(second), chip(2));
    // Twice the size keeps both.
    const { a: roomy } = twoInstances({ memoryBytes: 2 * CHIP_BYTES });
    await roomy.cache.produce(first, generator(chip(1)));
    await roomy.cache.produce(second, generator(chip(2)));
    expectDecodedOf(roomy.cache.inMemory(first), chip(1));
    expectDecodedOf(roomy.cache.inMemory(second), chip(2));
  });

  it.each([
    ['one byte less than a chip', CHIP_BYTES - 1],
    ['zero (taken as one byte)', 0],
  ])('keeps no chip in a budget of %s, yet hands the chip out and stores it', async (_, memoryBytes) => {
    const { bucket, a } = twoInstances({ memoryBytes });
    const key = freshKey('too-big');
    const { values, origin } = await a.cache.produce(key, generator(chip(3)));
    expect(origin).toBe('generated');
    expectDecodedOf(values, chip(3));
    expect(a.cache.inMemory(key)).toBeUndefined();
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(3)));
    // Loading it back decodes it again, and still keeps nothing.
    expect(await a.cache.load(key)).toEqual(values);
    expect(a.cache.inMemory(key)).toBeUndefined();
  });
});

describe('load', () => {
  it('is undefined, without a warning, for a key the store does not hold', async () => {
    const { store, log, a } = twoInstances();
    const key = freshKey('absent');
    expect(await a.cache.load(key)).toBeUndefined();
    expect(a.cache.inMemory(key)).toBeUndefined();
    expect(store.calls).toEqual([`get ${key}`]);
    expect(log.warnings()).toEqual([]);
  });

  it('decodes a stored chip to exactly the codec values (size, mask, bands) and remembers it', async () => {
    const { bucket, log, a } = twoInstances();
    const key = freshKey('stored');
    await bucket.put(key, chipObject(chip(4)));
    const values = await a.cache.load(key);
    expectDecodedOf(values, chip(4));
    expect([values!.width, values!.height]).toEqual([4, 3]);
    expect(values!.mask).toEqual(Uint8Array.from({ length: 12 }, (_, p) => (p === 5 ? 0 : 255)));
    expect(a.cache.inMemory(key)).toBe(values);
    expect(log.warnings()).toEqual([]);
  });

  it('is undefined and warns when the store get fails', async () => {
    const { bucket, store, log, a } = twoInstances();
    const key = freshKey('get-fails');
    await bucket.put(key, chipObject(chip(5)));
    store.hook = failOn('get', key, 'get refused');
    expect(await a.cache.load(key)).toBeUndefined();
    expect(a.cache.inMemory(key)).toBeUndefined();
    expect(log.warnings()).toEqual([{ msg: 'chip store get failed; generating instead', key, store: 'memory', error: 'get refused' }]);
  });

  it('treats stored bytes that are not a chip as missing, warns, and the next produce overwrites them', async () => {
    const { bucket, log, a, b } = twoInstances();
    const key = freshKey('damaged');
    await bucket.put(key, { body: new TextEncoder().encode('not a chip'), contentType: 'text/plain', etag: '"x"' });
    expect(await a.cache.load(key)).toBeUndefined();
    expect(a.cache.inMemory(key)).toBeUndefined();
    const warning = { msg: 'cached chip does not decode; generating it again', key, error: 'not an encoded chip (bad magic)' };
    expect(log.warnings()).toEqual([warning]);
    const generate = generator(chip(6));
    const { values, origin } = await a.cache.produce(key, generate);
    expect(origin).toBe('generated');
    expect(generate).toHaveBeenCalledTimes(1);
    expectDecodedOf(values, chip(6));
    // produce looked once more before generating (same warning), then replaced the damaged object.
    expect(log.warnings()).toEqual([warning, warning]);
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(6)));
    expect(await b.cache.load(key)).toEqual(values);
  });
});

describe('two instances over a file store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tmogc-chip-cache-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the second instance loads, byte for byte, the chip the first produced', async () => {
    const key = freshKey('file');
    const a = instance(new FileCacheStore(dir), 'a');
    const b = instance(new FileCacheStore(dir), 'b');
    const { values } = await a.cache.produce(key, generator(chip(7)));
    const stored = (await new FileCacheStore(dir).get(key))!;
    expect(new Uint8Array(stored.body)).toEqual(new Uint8Array(encodeChip(chip(7))));
    expect([stored.contentType, stored.etag]).toEqual(['application/vnd.terramind-ogc.chip', etagOf(encodeChip(chip(7)))]);
    expect(await b.leases.heldByOther(key)).toBe(false);
    const loaded = await b.cache.load(key);
    expect(loaded).toEqual(values);
    expect(loaded).not.toBe(values);
    expectDecodedOf(loaded, chip(7));
  });
});

describe('produce', () => {
  it('generates a fresh chip once under its lease, stores its encoded bytes, hands out the decoded values and releases the lease', async () => {
    const { bucket, store, log, a, b } = twoInstances();
    const key = freshKey('fresh');
    const generate = generator(chip(8));
    const { values, origin } = await a.cache.produce(key, generate);
    expect(origin).toBe('generated');
    expect(generate).toHaveBeenCalledTimes(1);
    expectDecodedOf(values, chip(8));
    expect(a.cache.inMemory(key)).toBe(values);
    expect(await bucket.get(key)).toEqual(chipObject(chip(8)));
    expect((await bucket.get(key))!.etag).toBe(etagOf(encodeChip(chip(8))));
    // Lease, one look for a chip stored meanwhile, the chip, the release: nothing else on these keys.
    expect(store.calls.filter((call) => call.endsWith(key) || call.endsWith(`${key}.lease`))).toEqual([
      `putIfAbsent ${key}.lease`,
      `get ${key}`,
      `put ${key}`,
      `put ${key}.lease`,
    ]);
    expect(await leaseOf(bucket, key)).toMatchObject({ owner: 'a', released: true });
    expect(await b.leases.heldByOther(key)).toBe(false);
    expect(await b.leases.acquire(key)).toBe(true);
    expect(log.warnings()).toEqual([]);
  });

  it("waits for a chip another instance holds the lease on, and takes that instance's chip at the next poll", async () => {
    const { bucket, a, b } = twoInstances({ leaseWaitMs: 1000, pollMs: 50 });
    const key = freshKey('peer');
    expect(await b.leases.acquire(key)).toBe(true);
    const peerStores = sleep(20).then(() => bucket.put(key, chipObject(chip(9))));
    const generate = generator(chip(10));
    const start = Date.now();
    const { values, origin } = await a.cache.produce(key, generate);
    const elapsed = Date.now() - start;
    await peerStores;
    expect(origin).toBe('peer');
    expect(generate).not.toHaveBeenCalled();
    expectDecodedOf(values, chip(9));
    expect(a.cache.inMemory(key)).toBe(values);
    // One poll, far from the 1000 ms bound.
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(500);
    // The peer's chip and lease are left as they were.
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(9)));
    expect(await a.leases.heldByOther(key)).toBe(true);
  });

  it('generates anyway after leaseWaitMs when the lease holder never stores nor releases, and leaves its lease alone', async () => {
    const { bucket, a, b } = twoInstances({ leaseWaitMs: 250, pollMs: 50 });
    const key = freshKey('stuck-peer');
    expect(await b.leases.acquire(key)).toBe(true);
    const generate = generator(chip(11));
    const start = Date.now();
    const { values, origin } = await a.cache.produce(key, generate);
    const elapsed = Date.now() - start;
    expect(origin).toBe('generated');
    expect(generate).toHaveBeenCalledTimes(1);
    expectDecodedOf(values, chip(11));
    expect(elapsed).toBeGreaterThanOrEqual(245);
    expect(elapsed).toBeLessThan(1000);
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(11)));
    // Not ours to release: b still holds it.
    expect(await leaseOf(bucket, key)).toMatchObject({ owner: 'b' });
    expect(await a.leases.heldByOther(key)).toBe(true);
  });

  it('polls every pollMs until exactly leaseWaitMs has passed: four looks in 200 ms at 50 ms, then one more before generating', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const { store, a, b } = twoInstances({ leaseWaitMs: 200, pollMs: 50 });
      const key = freshKey('schedule');
      expect(await b.leases.acquire(key)).toBe(true);
      const start = Date.now();
      let generatedAt = -1;
      const produced = a.cache.produce(key, async () => {
        generatedAt = Date.now() - start;
        return chip(12);
      });
      await vi.runAllTimersAsync();
      expect((await produced).origin).toBe('generated');
      expect(generatedAt).toBe(200);
      expect(store.count('get', key)).toBe(5);
      // One read when the lease was refused, then one per poll.
      expect(store.count('get', `${key}.lease`)).toBe(5);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stops waiting at the next poll when the holder released its lease without storing the chip, and generates', async () => {
    const { bucket, a, b } = twoInstances({ leaseWaitMs: 1000, pollMs: 50 });
    const key = freshKey('released');
    expect(await b.leases.acquire(key)).toBe(true);
    const peerGivesUp = sleep(20).then(() => b.leases.release(key));
    const generate = generator(chip(13));
    const start = Date.now();
    const { values, origin } = await a.cache.produce(key, generate);
    const elapsed = Date.now() - start;
    await peerGivesUp;
    expect(origin).toBe('generated');
    expect(generate).toHaveBeenCalledTimes(1);
    expectDecodedOf(values, chip(13));
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(500);
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(13)));
  });

  it('stops waiting at the next poll when the lease can no longer be read, and generates without a warning', async () => {
    const { store, log, a, b } = twoInstances({ leaseWaitMs: 1000, pollMs: 50 });
    const key = freshKey('unreadable-lease');
    expect(await b.leases.acquire(key)).toBe(true);
    // The first read is the one that refuses us the lease; every later one fails.
    store.hook = (op, k, nth) => {
      if (op === 'get' && k === `${key}.lease` && nth >= 2) throw new Error('lease unreadable');
    };
    const generate = generator(chip(14));
    const start = Date.now();
    const { origin } = await a.cache.produce(key, generate);
    const elapsed = Date.now() - start;
    expect(origin).toBe('generated');
    expect(generate).toHaveBeenCalledTimes(1);
    expect(elapsed).toBeLessThan(500);
    expect(store.count('get', `${key}.lease`)).toBe(2);
    expect(log.warnings()).toEqual([]);
  });

  it('takes a chip stored between taking the lease and generating, and releases the lease', async () => {
    const { bucket, store, log, a, b } = twoInstances();
    const key = freshKey('meanwhile');
    // The peer stores the chip right after we took the lease, before our look.
    store.hook = async (op, k, nth) => {
      if (op === 'get' && k === key && nth === 1) await bucket.put(key, chipObject(chip(15)));
    };
    const generate = generator(chip(16));
    const { values, origin } = await a.cache.produce(key, generate);
    expect(origin).toBe('peer');
    expect(generate).not.toHaveBeenCalled();
    expectDecodedOf(values, chip(15));
    expect(a.cache.inMemory(key)).toBe(values);
    expect(await leaseOf(bucket, key)).toMatchObject({ owner: 'a', released: true });
    expect(await b.leases.heldByOther(key)).toBe(false);
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(15)));
    expect(log.warnings()).toEqual([]);
  });

  it("takes a chip the holder stored just before releasing its lease, and leaves that instance's lease as it wrote it", async () => {
    const { bucket, store, a, b } = twoInstances({ leaseWaitMs: 1000, pollMs: 50 });
    const key = freshKey('stored-then-released');
    expect(await b.leases.acquire(key)).toBe(true);
    // Between our first poll's look (nothing) and its lease check, the holder stores the chip and releases.
    store.hook = async (op, k, nth) => {
      if (op === 'get' && k === `${key}.lease` && nth === 2) {
        await bucket.put(key, chipObject(chip(17)));
        await b.leases.release(key);
      }
    };
    const generate = generator(chip(18));
    const start = Date.now();
    const { values, origin } = await a.cache.produce(key, generate);
    expect(Date.now() - start).toBeLessThan(500);
    expect(origin).toBe('peer');
    expect(generate).not.toHaveBeenCalled();
    expectDecodedOf(values, chip(17));
    expect(store.count('get', key)).toBe(2);
    // We never held the lease, so we do not write it.
    expect(await leaseOf(bucket, key)).toMatchObject({ owner: 'b', released: true });
    expect(store.count('put', `${key}.lease`)).toBe(0);
  });

  it('still serves a chip stored meanwhile when releasing our lease fails, and says the lease will expire', async () => {
    const { bucket, store, log, a } = twoInstances();
    const key = freshKey('release-fails');
    store.hook = async (op, k, nth) => {
      if (op === 'get' && k === key && nth === 1) await bucket.put(key, chipObject(chip(19)));
      if (op === 'put' && k === `${key}.lease`) throw new Error('release refused');
    };
    const { values, origin } = await a.cache.produce(key, generator(chip(20)));
    expect(origin).toBe('peer');
    expectDecodedOf(values, chip(19));
    expect(log.warnings()).toEqual([{ msg: 'chip lease release failed; it expires at its TTL', key, store: 'memory', error: 'release refused' }]);
  });

  it('stores a generated chip when releasing our lease then fails, and warns about the lease, not the chip', async () => {
    const { bucket, store, log, a } = twoInstances();
    const key = freshKey('stored-release-fails');
    store.hook = failOn('put', `${key}.lease`, 'release refused');
    const { origin } = await a.cache.produce(key, generator(chip(24)));
    expect(origin).toBe('generated');
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(24)));
    expect(log.warnings()).toEqual([{ msg: 'chip lease release failed; it expires at its TTL', key, store: 'memory', error: 'release refused' }]);
  });

  it('serves a generated chip from memory, warns and releases its lease when the store put fails', async () => {
    const { bucket, store, log, a, b } = twoInstances();
    const key = freshKey('put-fails');
    store.hook = failOn('put', key, 'put refused');
    const generate = generator(chip(21));
    const { values, origin } = await a.cache.produce(key, generate);
    expect(origin).toBe('generated');
    expect(generate).toHaveBeenCalledTimes(1);
    expectDecodedOf(values, chip(21));
    expect(a.cache.inMemory(key)).toBe(values);
    expect(await bucket.get(key)).toBeUndefined();
    expect(log.warnings()).toEqual([{ msg: 'chip store put failed; serving uncached', key, store: 'memory', error: 'put refused' }]);
    // The chip is not coming from us: other instances must not wait for it.
    expect(await leaseOf(bucket, key)).toMatchObject({ owner: 'a', released: true });
    expect(await b.leases.heldByOther(key)).toBe(false);
  });

  it('warns and generates at once, without waiting, when taking the lease fails', async () => {
    const { bucket, store, log, a } = twoInstances({ leaseWaitMs: 1000, pollMs: 300 });
    const key = freshKey('lease-fails');
    store.hook = failOn('putIfAbsent', `${key}.lease`, 'lease refused');
    const generate = generator(chip(22));
    const start = Date.now();
    const { values, origin } = await a.cache.produce(key, generate);
    expect(Date.now() - start).toBeLessThan(250);
    expect(origin).toBe('generated');
    expect(generate).toHaveBeenCalledTimes(1);
    expectDecodedOf(values, chip(22));
    // One look for the chip, no polls.
    expect(store.count('get', key)).toBe(1);
    expect((await bucket.get(key))!.body).toEqual(encodeChip(chip(22)));
    expect(log.warnings()).toEqual([{ msg: 'chip lease failed; generating without one', key, error: 'lease refused' }]);
  });

  it("never writes over a lease it could not read: another instance's live lease stays as that instance wrote it", async () => {
    const { bucket, store, log, a, b } = twoInstances({ leaseWaitMs: 1000, pollMs: 300 });
    const key = freshKey('lease-unreadable');
    expect(await b.leases.acquire(key)).toBe(true);
    store.hook = failOn('get', `${key}.lease`, 'lease unreadable');
    const { origin } = await a.cache.produce(key, generator(chip(25)));
    expect(origin).toBe('generated');
    expect(store.count('put', `${key}.lease`)).toBe(0);
    expect(await leaseOf(bucket, key)).toMatchObject({ owner: 'b' });
    expect(await leaseOf(bucket, key)).not.toHaveProperty('released');
    expect(log.warnings()).toEqual([{ msg: 'chip lease failed; generating without one', key, error: 'lease unreadable' }]);
  });

  it('rejects with the error of a failing generation, neither stores nor remembers anything, and releases its lease', async () => {
    const { bucket, log, a, b } = twoInstances();
    const key = freshKey('generate-fails');
    const failure = new Error('model failed');
    const generate = vi.fn(async (): Promise<ChipValues> => {
      throw failure;
    });
    await expect(a.cache.produce(key, generate)).rejects.toBe(failure);
    expect(generate).toHaveBeenCalledTimes(1);
    expect(await bucket.get(key)).toBeUndefined();
    expect(a.cache.inMemory(key)).toBeUndefined();
    expect(log.warnings()).toEqual([]);
    // Released, so another instance generates at once instead of waiting for a chip that is not coming.
    expect(await leaseOf(bucket, key)).toMatchObject({ owner: 'a', released: true });
    expect(await b.leases.acquire(key)).toBe(true);
  });
});

describe('without a logger', () => {
  const produced = async (cache: ChipCache, key: string) => (await cache.produce(key, generator(chip(23)))).origin;

  it.each<[string, (key: string) => Hook, (cache: ChipCache, key: string) => Promise<unknown>, unknown]>([
    ['a failing get', (key) => failOn('get', key), (cache, key) => cache.load(key), undefined],
    ['a failing put', (key) => failOn('put', key), produced, 'generated'],
    ['a failing lease', (key) => failOn('putIfAbsent', `${key}.lease`), produced, 'generated'],
  ])('survives %s the same way', async (_, hook, call, expected) => {
    const store = new HookedStore(new MemoryCacheStore(1 << 20));
    const key = freshKey('silent');
    store.hook = hook(key);
    const { cache } = instance(store, 'a');
    expect(await call(cache, key)).toBe(expected);
  });

  it('survives bytes that are not a chip the same way', async () => {
    const bucket = new MemoryCacheStore(1 << 20);
    const key = freshKey('silent-damaged');
    await bucket.put(key, { body: new Uint8Array([1, 2, 3]), contentType: 'text/plain', etag: '"y"' });
    expect(await instance(bucket, 'a').cache.load(key)).toBeUndefined();
  });
});
