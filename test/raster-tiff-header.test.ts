import { describe, expect, it } from 'vitest';
import { OgcError } from '../src/errors.js';
import { summarizeTiffHeader } from '../src/raster/tiff-header.js';
import { hostileTiff } from './helpers/hostile-tiff.js';

/** The IFD walk that sizes a TIFF's header before geotiff.js parses it (src/raster/tiff-header.ts). */
const reader = (bytes: Buffer) => async (offset: number, length: number) => new Uint8Array(bytes.subarray(offset, offset + length));
const tiff = (overrides: Partial<Parameters<typeof hostileTiff>[0]> = {}) =>
  hostileTiff({ width: 256, height: 256, tileWidth: 64, tileHeight: 64, tiles: { shared: Buffer.alloc(64 * 64) }, origin: [0, 0], pixelSize: 1, ...overrides });

describe('summarizeTiffHeader', () => {
  it('adds up the out-of-line tag values geotiff.js will allocate, plus bookkeeping', async () => {
    // 15 entries: 4096 + 15 * 64 bookkeeping; out of line: TileOffsets and TileByteCounts (16 LONGs = 64 bytes
    // + 2 bytes of loaded-map each), ModelPixelScale (24 + 1), ModelTiepoint (48 + 1), GeoKeyDirectory (32 + 2).
    expect(await summarizeTiffHeader('t', reader(tiff()), 1 << 20, 64)).toEqual({ images: 1, bytes: 4096 + 960 + 66 + 66 + 25 + 49 + 34 });
  });

  it('refuses declared tag arrays past the limit without reading them (BigTIFF, 10^10 tile offsets)', async () => {
    const bytes = tiff({ width: 100_000, height: 100_000, tileWidth: 1, tileHeight: 1, tiles: { shared: Buffer.alloc(1) }, declaredTileCount: 1e10, bigTiff: true });
    expect(bytes.length).toBeLessThan(1000);
    const error = await summarizeTiffHeader('http://h/f.tif', reader(bytes), 16 << 20, 64).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OgcError);
    expect((error as OgcError).status).toBe(502);
    expect((error as OgcError).detail).toMatch(/^http:\/\/h\/f\.tif declares more than 16\.0 MiB of header data .* RASTER_MAX_HEADER_BYTES=16777216/);
  });

  it('stops at a cycle in the IFD chain and at the image cap', async () => {
    const bytes = tiff();
    // Point the only IFD's next-IFD offset back at itself (classic TIFF: after 2 + 15 * 12 bytes).
    expect(bytes.readUInt32LE(8 + 2 + 15 * 12)).toBe(0);
    bytes.writeUInt32LE(8, 8 + 2 + 15 * 12);
    expect((await summarizeTiffHeader('t', reader(bytes), 1 << 20, 64)).images).toBe(1);
    // The image cap ends the walk too.
    expect((await summarizeTiffHeader('t', reader(tiff()), 1 << 20, 1)).images).toBe(1);
  });

  it('says "not a GeoTIFF or is truncated" for wrong magic and an IFD past the end', async () => {
    await expect(summarizeTiffHeader('t', reader(Buffer.from('{"type":"Feature"}')), 1 << 20, 64)).rejects.toMatchObject({ status: 502, detail: 't is not a GeoTIFF (wrong magic bytes)' });
    const cut = Buffer.from(tiff().subarray(0, 8));
    await expect(summarizeTiffHeader('t', reader(cut), 1 << 20, 64)).rejects.toMatchObject({ detail: 't is not a GeoTIFF or is truncated (IFD 0 lies past the end of the file)' });
  });
});
