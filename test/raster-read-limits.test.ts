import { fromArrayBuffer } from 'geotiff';
import { describe, expect, it } from 'vitest';
import { RequestBudget, runWithBudget } from '../src/net/request-budget.js';
import { cacheDecodedTiles, createDecodedTileCache } from '../src/raster/decoded-cache.js';
import { admitRead, DecodeGate, planRead, type RasterLimits } from '../src/raster/read-limits.js';
import { hostileTiff } from './helpers/hostile-tiff.js';

/** Read plans and the budgets they are admitted against (src/raster/read-limits.ts); figures worked out by hand. */
async function image(spec: { width: number; height: number; tile: number; bits?: number }) {
  const bytes = hostileTiff({
    width: spec.width,
    height: spec.height,
    tileWidth: spec.tile,
    tileHeight: spec.tile,
    bitsPerSample: spec.bits ?? 8,
    tiles: { shared: Buffer.alloc(spec.tile * spec.tile * ((spec.bits ?? 8) / 8)) },
    origin: [0, 0],
    pixelSize: 1,
  });
  const tiff = await fromArrayBuffer(new Uint8Array(bytes).buffer);
  return tiff.getImage();
}

const limits = (overrides: Partial<RasterLimits> = {}): RasterLimits => ({ maxTilesPerRead: 1024, maxDecodedBytesPerRequest: 1 << 30, maxHeaderBytes: 1 << 24, ...overrides });

describe('planRead', () => {
  it('counts the tiles a window touches and their decoded bytes plus the window arrays', async () => {
    const img = await image({ width: 1000, height: 1000, tile: 256, bits: 16 });
    // Window x 100..600 (tiles 0..2), y 250..260 (tiles 0..1): 3 x 2 = 6 tiles of 256*256*2 bytes,
    // plus a window of 500 x 10 px of 2 bytes.
    expect(planRead(img, [100, 250, 600, 260], [0])).toEqual({ tiles: 6, bytes: 6 * 256 * 256 * 2 + 500 * 10 * 2 });
    // A window inside one tile; the last, partial tile column of a 1000 px image (768..1000).
    expect(planRead(img, [800, 0, 1000, 1], [0])).toEqual({ tiles: 1, bytes: 256 * 256 * 2 + 200 * 2 });
  });

  it('does not count blocks already in the decoded-tile cache', async () => {
    const img = await image({ width: 512, height: 256, tile: 256 });
    const cache = createDecodedTileCache(1 << 20);
    cacheDecodedTiles(img, 'x#0', cache);
    cache.lru.set('x#0|1,0,0', new ArrayBuffer(256 * 256));
    // Two tiles touched, one of them cached: one to decode, plus 512 x 1 window bytes.
    expect(planRead(img, [0, 0, 512, 1], [0])).toEqual({ tiles: 2, bytes: 256 * 256 + 512 });
  });
});

describe('admitRead', () => {
  it('refuses a read over RASTER_MAX_TILES_PER_READ before anything else, naming the limit', async () => {
    await expect(admitRead('http://h/f.tif', { tiles: 1025, bytes: 1 }, limits())).rejects.toMatchObject({
      status: 400,
      detail: expect.stringContaining('touches 1025 internal tiles, over RASTER_MAX_TILES_PER_READ=1024'),
    });
    await expect(admitRead('http://h/f.tif', { tiles: 1024, bytes: 1 }, limits())).resolves.toBeTypeOf('function');
  });

  it('books every read of one request on its budget and refuses the one that does not fit', async () => {
    const budget = new RequestBudget(10_000, 3000);
    await runWithBudget(budget, async () => {
      await admitRead('http://h/a.tif', { tiles: 1, bytes: 2000 }, limits());
      expect(budget.decodedBytes).toBe(2000);
      await expect(admitRead('http://h/b.tif', { tiles: 1, bytes: 1001 }, limits())).rejects.toMatchObject({
        status: 400,
        detail: expect.stringMatching(/needs 1 KiB of decoded pixels and this request has 1 KiB left of RASTER_MAX_DECODED_BYTES_PER_REQUEST=3000/),
      });
      await admitRead('http://h/c.tif', { tiles: 1, bytes: 1000 }, limits());
      expect(budget.decodedBytes).toBe(3000);
    });
    budget.dispose();
  });

  it('outside a request, each read counts alone against maxDecodedBytesPerRequest', async () => {
    await expect(admitRead('http://h/f.tif', { tiles: 1, bytes: 101 }, limits({ maxDecodedBytesPerRequest: 100 }))).rejects.toMatchObject({ status: 400 });
    await admitRead('http://h/f.tif', { tiles: 1, bytes: 100 }, limits({ maxDecodedBytesPerRequest: 100 }));
    await admitRead('http://h/f.tif', { tiles: 1, bytes: 100 }, limits({ maxDecodedBytesPerRequest: 100 }));
  });
});

describe('DecodeGate', () => {
  it('grants in order while bytes fit and makes later reads wait for room', async () => {
    const gate = new DecodeGate(100);
    const releaseA = await gate.acquire(60);
    const order: string[] = [];
    const b = gate.acquire(50).then((release) => (order.push('b'), release));
    const c = gate.acquire(10).then((release) => (order.push('c'), release)); // fits, but waits its turn behind b
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(order).toEqual([]);
    expect(gate.inUse).toBe(60);
    releaseA();
    const [releaseB, releaseC] = await Promise.all([b, c]);
    expect(order).toEqual(['b', 'c']);
    expect(gate.inUse).toBe(60);
    releaseB();
    releaseB(); // a second release changes nothing
    expect(gate.inUse).toBe(10);
    releaseC();
    expect(gate.inUse).toBe(0);
  });

  it('answers 503 naming the limit when no room comes free in time, and 400 for a read that can never fit', async () => {
    const gate = new DecodeGate(100);
    const release = await gate.acquire(100);
    const started = performance.now();
    await expect(gate.acquire(1, 50)).rejects.toMatchObject({ status: 503, detail: expect.stringContaining('RASTER_MAX_DECODED_BYTES_IN_FLIGHT=100') });
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    await expect(gate.acquire(101)).rejects.toMatchObject({ status: 400 });
    release();
    expect(gate.inUse).toBe(0);
    // The waiter that gave up is gone from the queue: the next one is granted at once.
    (await gate.acquire(100))();
  });
});
