import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import { describe, expect, it } from 'vitest';
import { registerFastDecoders } from '../src/raster/decoders.js';
import { decodeLzw } from '../src/raster/lzw.js';
import { FIXTURES } from './helpers/fixture-server.js';

/**
 * Our decoders must give exactly what geotiff.js's own decoders give. The digests below were recorded by
 * decoding the fixtures with geotiff 3.0.5's built-in LZW and pako deflate decoders (before registering ours).
 */
const DEFLATE: [path: string, image: number, sha256: string][] = [
  ['cog/titiler/TCI.tif', 0, '02c7874f5c83baa4f51a4076cb9bc2e9020692bbc9401827fe0eb6f8774b8161'],
  ['cog/titiler/TCI.tif', 5, 'f24e806c63033498a203a163ef6fa97c283ca42284dddd93c68bec33400a7677'],
  ['cog/rio-tiler/cog.tif', 0, 'cf97768563990acab08c1298c238f4257c76e752bf30ce49de2978a8d0354f25'],
  ['cog/rio-tiler/cog.tif', 4, 'df922f9fa3464aaa6d4eb87cc6fad359b91bb5add13c24fbc1d8270c85f7aca3'],
  ['cog/titiler/B01.tif', 0, 'b491f1bc362f36413433f828354df2822f1f64adaa3f026beb00612d7dd41f2e'],
  ['cog/titiler/B01.tif', 2, '97fc0ac267af0903ad0f91d00f5183f0909aceaf380b6aea22013ce4e2cb4e41'],
];

const REFERENCE: Record<string, { sha256: string; samples: [number, number][] }> = {
  'cog/titiler/dem.tif': {
    sha256: '9e2f5c7a472437c4d2a29750395bf21b27c41d14940c2e69a4062aa5674227d3',
    samples: [[0, 1718.185791015625], [12345, 1706.371337890625], [159999, 1680.926025390625]],
  },
  'cog/rio-tiler/cog_gcps.tif': {
    sha256: 'ee4318dadf96d9ba4eae6de1249a9d375df281569429663b4a470b6fee3127b9',
    samples: [[0, 67], [12345, 138]],
  },
};

const digest = (values: ArrayBufferView) =>
  createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');

describe('native deflate decoding', () => {
  it('decodes real deflate COGs (uint8 RGB, uint16, overviews) byte-identically to geotiff.js/pako', async () => {
    registerFastDecoders();
    for (const [path, index, sha256] of DEFLATE) {
      const image = await (await fromFile(join(FIXTURES, path))).getImage(index);
      expect(digest(await image.readRasters({ interleave: true }))).toBe(sha256);
    }
  });
});

describe('fast LZW decoding', () => {
  it('decodes real LZW GeoTIFFs (float32 DEM, uint16 SAR) byte-identically to geotiff.js, quickly', async () => {
    registerFastDecoders();
    for (const [path, expected] of Object.entries(REFERENCE)) {
      const image = await (await fromFile(join(FIXTURES, path))).getImage(0);
      const started = performance.now();
      const values = await image.readRasters({ interleave: true });
      const elapsed = performance.now() - started;
      expect(digest(values)).toBe(expected.sha256);
      for (const [index, value] of expected.samples) expect(values[index]).toBe(value);
      expect(elapsed).toBeLessThan(1500); // geotiff.js's own decoder takes ~1 s for the DEM alone on 2 cores
    }
  });

  it('handles the code-width switch, KwKwK codes and clear codes in a hand-made stream', () => {
    // Codes (9 bits, MSB first): CLEAR, 'A'(65), 258 (= "AA", KwKwK), 'B'(66), CLEAR, 'C'(67), END.
    const codes = [256, 65, 258, 66, 256, 67, 257];
    let bits = '';
    for (const code of codes) bits += code.toString(2).padStart(9, '0');
    while (bits.length % 8) bits += '0';
    const bytes = new Uint8Array(bits.length / 8);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
    expect(new TextDecoder().decode(decodeLzw(bytes))).toBe('AAABC');
    // A code beyond the table is corrupt data, not a crash or a hang.
    const bad = new Uint8Array([0x80, 0x10, 0x7f, 0xff, 0xf0]);
    expect(() => decodeLzw(bad)).toThrow(/LZW/);
  });
});
