import { inflateSync } from 'node:zlib';
import { BaseDecoder, addDecoder } from 'geotiff';
import { decodeLzw } from './lzw.js';

/**
 * Faster codecs for geotiff.js, registered process-wide (main thread and decode workers), same output byte
 * for byte:
 * - Deflate (8, 32946) through Node's native zlib instead of pako: about 3x faster on TCI.tif;
 *   Earth Search Sentinel-2 COGs are deflate, so this is the hot decoder of S2 tiles.
 * - LZW (5) through the typed-array decoder in lzw.ts: about 10x faster on the swisstopo DEM.
 * Both stop as soon as the output passes the block's declared size, so a compression bomb (a few KiB that
 * inflate to gigabytes) costs at most one block. Predictors are still applied by BaseDecoder.decode.
 */
class NativeDeflateDecoder extends BaseDecoder {
  override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    const limit = blockByteBound(this.parameters);
    let out: Buffer;
    try {
      // One output chunk of the block's size: no concatenation of 16 KiB pieces, and no copy below.
      out = inflateSync(new Uint8Array(buffer), { maxOutputLength: limit, chunkSize: Math.max(limit, 64) });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw oversized(limit);
      throw error;
    }
    const whole = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
    return whole ? out.buffer : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
  }
}

class TypedLzwDecoder extends BaseDecoder {
  override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    const limit = blockByteBound(this.parameters);
    // Real tiles compress a few times; a bomb's declared size is not allocated up front, only grown into.
    const out = decodeLzw(new Uint8Array(buffer), Math.min(limit, buffer.byteLength * 16), limit);
    if (!out) throw oversized(limit);
    return out.buffer;
  }
}

/** Bytes one tile or strip decodes to at most: its declared size (all samples when interleaved, one otherwise). */
export function blockByteBound(parameters: { tileWidth: number; tileHeight: number; bitsPerSample: number | ArrayLike<number>; planarConfiguration?: number }): number {
  const { tileWidth, tileHeight, bitsPerSample, planarConfiguration } = parameters;
  const bits = typeof bitsPerSample === 'number' ? [bitsPerSample] : Array.from(bitsPerSample);
  const perPixel = planarConfiguration === 2 ? Math.max(...bits) : bits.reduce((a, b) => a + b, 0);
  return Math.ceil((tileWidth * tileHeight * perPixel) / 8);
}

function oversized(limit: number): Error {
  return new Error(`a block decodes to more than its declared ${limit} bytes (a compression bomb or a corrupt file)`);
}

let registered = false;

/** Idempotent; called when src/raster/cog.ts is loaded. */
export function registerFastDecoders(): void {
  if (registered) return;
  registered = true;
  addDecoder([8, 32946], async () => NativeDeflateDecoder as never, undefined, false);
  addDecoder(5, async () => TypedLzwDecoder as never, undefined, false);
}
