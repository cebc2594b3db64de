import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import { describe, expect, it } from 'vitest';
import { decodeLzw, registerFastLzw } from '../src/raster/lzw.js';
import { FIXTURES } from './helpers/fixture-server.js';

/**
 * The typed-array LZW decoder must give exactly what geotiff.js's own decoder gives. The digests below were
 * recorded by decoding the fixtures with geotiff 3.0.5's built-in LZW decoder (before registering ours).
 */
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

describe('fast LZW decoding', () => {
  it('decodes real LZW GeoTIFFs (float32 DEM, uint16 SAR) byte-identically to geotiff.js, quickly', async () => {
    registerFastLzw();
    for (const [path, expected] of Object.entries(REFERENCE)) {
      const image = await (await fromFile(join(FIXTURES, path))).getImage(0);
      const started = performance.now();
      const values = await image.readRasters({ interleave: true });
      const elapsed = performance.now() - started;
      const digest = createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
      expect(digest).toBe(expected.sha256);
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
