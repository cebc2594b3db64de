import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs, runGenerateCli } from '../src/cli/generate.js';
import { readGeoTiffRaster } from '../src/cli/read-input.js';
import { loadConfig } from '../src/config.js';
import { createModelRuntime } from '../src/model/runtime.js';
import type { Raster } from '../src/raster/raster.js';
import { encodeGeoTiff } from '../src/render/geotiff.js';
import { startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = join(ROOT, 'models/terramind-test-random');
const CHIP = join(ROOT, 'test/fixtures/terramind-examples/S2L2A/38D_378R_2_3.tif');
let server: FixtureServer;
let out: string;

beforeAll(async () => {
  server = await startFixtureServer();
  out = mkdtempSync(join(tmpdir(), 'generate-cli-'));
});
afterAll(async () => {
  await server?.close();
  rmSync(out, { recursive: true, force: true });
});

const quiet = () => {};

describe('generate CLI', { timeout: 180_000 }, () => {
  it('parses its arguments and rejects mistakes with the usage', () => {
    const job = parseCliArgs(['--input', 's2l2a=a.tif', '--output', 'LULC,DEM', '--seed', '3', '--out', 'o', '--offset', 'S2L2A=1000']);
    expect(job.inputs).toEqual([['S2L2A', 'a.tif']]);
    expect(job.outputs).toEqual(['LULC', 'DEM']);
    expect(job.seed).toBe(3);
    expect(job.offsets).toEqual({ S2L2A: 1000 });
    expect(() => parseCliArgs(['--input', 'FOO=a.tif', '--output', 'DEM', '--out', 'o'])).toThrow(/unknown modality 'FOO'/);
    expect(() => parseCliArgs(['--output', 'DEM'])).toThrow(/Usage/);
  });

  it('generates GeoTIFFs on the input grid from an example chip read over HTTP', async () => {
    const dir = join(out, 'chip');
    const lines: string[] = [];
    const url = `${server.url}/terramind-examples/S2L2A/38D_378R_2_3.tif`;
    const { files, seed } = await runGenerateCli(
      ['--model', MODEL_DIR, '--input', `S2L2A=${url}`, '--output', 'LULC,DEM', '--seed', '1', '--timesteps', '2', '--out', dir],
      (line) => lines.push(line),
    );
    expect(seed).toBe(1);
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['DEM.tif', 'LULC.tif']);
    expect(lines.some((l) => /chip 1\/1 done/.test(l))).toBe(true);
    expect(server.requests.some((r) => r.range !== undefined)).toBe(true);
    const input = await (await fromFile(CHIP)).getImage();
    for (const file of files) {
      const image = await (await fromFile(file)).getImage();
      expect(image.getWidth()).toBe(224);
      expect(image.getHeight()).toBe(224);
      expect(image.getOrigin()).toEqual(input.getOrigin());
      expect(image.getResolution()).toEqual(input.getResolution());
      expect(image.getGeoKeys()?.ProjectedCSTypeGeoKey).toBe(32736);
    }
    const lulc = await readGeoTiffRaster(join(dir, 'LULC.tif'));
    expect(lulc.bands[0]!.every((v) => Number.isInteger(v) && v >= 0 && v <= 9)).toBe(true);
    const dem = await readGeoTiffRaster(join(dir, 'DEM.tif'));
    expect(dem.bands[0]!.every(Number.isFinite)).toBe(true);
  });

  it('tiles a larger input and blends overlapping chips', async () => {
    // A 400x300 S2L2A mosaic made of the real chip (mirrored), written as a GeoTIFF with the chip's origin.
    const chip = await readGeoTiffRaster(CHIP);
    const width = 400;
    const height = 300;
    const mirror = (i: number, n: number) => (i < n ? i : 2 * n - 1 - i);
    const big: Raster = {
      ...chip,
      width,
      height,
      bands: chip.bands.map((band) => {
        const outBand = new Float32Array(width * height);
        for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) outBand[y * width + x] = band[mirror(y, 224) * 224 + mirror(x, 224)]!;
        return outBand;
      }),
      mask: new Uint8Array(width * height).fill(255),
    };
    const bigFile = join(out, 'big.tif');
    writeFileSync(bigFile, encodeGeoTiff(big));
    const dir = join(out, 'big');
    await runGenerateCli(['--model', MODEL_DIR, '--input', `S2L2A=${bigFile}`, '--output', 'DEM', '--seed', '5', '--timesteps', '2', '--out', dir], quiet);
    const dem = await readGeoTiffRaster(join(dir, 'DEM.tif'));
    expect([dem.width, dem.height]).toEqual([width, height]);
    expect(dem.transform).toEqual(chip.transform);

    // Where only the top-left chip covers the grid, the result is that chip's own generation.
    const runtime = createModelRuntime({ ...loadConfig({}), BATCH_MAX_WAIT_MS: 0 }, undefined, { modelDir: MODEL_DIR });
    try {
      const crop = (x0: number, y0: number) =>
        big.bands.map((band) => {
          const c = new Float32Array(224 * 224);
          for (let y = 0; y < 224; y += 1) c.set(band.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + 224), y * 224);
          return c;
        });
      const request = { outputs: ['DEM'], seed: 5, timesteps: 2 };
      const a = (await runtime.generate({ ...request, inputs: { S2L2A: { bands: crop(0, 0) } }, chipId: 'r0c0' })).outputs.DEM!.bands[0]!;
      const b = (await runtime.generate({ ...request, inputs: { S2L2A: { bands: crop(176, 0) } }, chipId: 'r0c1' })).outputs.DEM!.bands[0]!;
      const d = dem.bands[0]!;
      for (const [x, y] of [[0, 0], [100, 50], [170, 40]] as const) expect(d[y * width + x]!).toBeCloseTo(a[y * 224 + x]!, 2);
      // In the overlap of the two top chips (x 176..223, rows covered by no other chip) it is a blend of both.
      for (const x of [196, 200, 205]) {
        const y = 20;
        const va = a[y * 224 + x]!;
        const vb = b[y * 224 + (x - 176)]!;
        const v = d[y * width + x]!;
        expect(v).toBeGreaterThanOrEqual(Math.min(va, vb) - 1e-2);
        expect(v).toBeLessThanOrEqual(Math.max(va, vb) + 1e-2);
      }
    } finally {
      await runtime.close();
    }
  });

  it('refuses inputs smaller than a chip with a clear message', async () => {
    const chip = await readGeoTiffRaster(CHIP);
    const small: Raster = { ...chip, width: 100, height: 100, bands: chip.bands.map(() => new Float32Array(100 * 100).fill(1000)), mask: new Uint8Array(10000).fill(255) };
    const file = join(out, 'small.tif');
    writeFileSync(file, encodeGeoTiff(small));
    await expect(runGenerateCli(['--model', MODEL_DIR, '--input', `S2L2A=${file}`, '--output', 'DEM', '--out', join(out, 's')], quiet)).rejects.toThrow(
      /at least 224 pixels/,
    );
  });
});
