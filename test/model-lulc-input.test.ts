import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGenerateCli } from '../src/cli/generate.js';
import { readGeoTiffRaster } from '../src/cli/read-input.js';
import { loadConfig } from '../src/config.js';
import { OgcError } from '../src/errors.js';
import { createModelRuntime, generateTiled, loadPackage, validateRequest, type GenerateRequest, type ModelRuntime } from '../src/model/index.js';
import type { Raster } from '../src/raster/raster.js';
import { encodeGeoTiff } from '../src/render/geotiff.js';
import { badRequestOf } from './helpers/expect-error.js';

/**
 * LULC given as a class map must hold integer class indices 0..9. The tokenizer graph would turn anything else into
 * another class or an all-zero one-hot without a word (IBM's F.one_hot raises), so every path refuses it with a 400
 * that names the band and the valid range: plain bands, a Raster, offsets, tiled rasters and the CLI.
 */
const MODEL_DIR = fileURLToPath(new URL('../models/terramind-test-random', import.meta.url));
const LULC_TIF = fileURLToPath(new URL('./fixtures/terramind-examples/LULC/38D_378R_2_3.tif', import.meta.url));
const pkg = loadPackage(MODEL_DIR);

let lulc: Raster;
let runtime: ModelRuntime;
let onnxRuns = 0;
const encoderRuns: number[] = [];
let dir: string;

beforeAll(async () => {
  lulc = await readGeoTiffRaster(LULC_TIF, 'LULC');
  runtime = createModelRuntime({ ...loadConfig({}), BATCH_MAX_WAIT_MS: 0, INTRA_OP_THREADS: 1 }, undefined, {
    modelDir: MODEL_DIR,
    onRun: (part, rows) => {
      onnxRuns += 1;
      if (part === 'encoder.onnx') encoderRuns.push(rows);
    },
  });
  dir = mkdtempSync(join(tmpdir(), 'lulc-input-'));
});
afterAll(async () => {
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The fixture's class map with `value` at (row, col). */
function withValue(value: number, row: number, col: number): Float32Array {
  const band = Float32Array.from(lulc.bands[0]!);
  band[row * 224 + col] = value;
  return band;
}

async function rejectedWith(work: Promise<unknown>): Promise<OgcError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OgcError);
  expect((error as OgcError).status).toBe(400);
  return error as OgcError;
}

const request = (inputs: GenerateRequest['inputs'], extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  inputs,
  outputs: ['DEM'],
  seed: 1,
  timesteps: 1,
  ...extra,
});

describe('LULC class-map inputs', { timeout: 120_000 }, () => {
  it('the fixture is a valid class map and passes through as the class indices themselves', () => {
    const valid = validateRequest(pkg, request({ LULC: { bands: [lulc.bands[0]!] } }));
    const pixels = (valid.inputs.LULC as { pixels: Float32Array }).pixels;
    expect([...pixels]).toEqual([...lulc.bands[0]!]);
  });

  it('refuses a value outside the classes, naming the band, the pixel and the range', () => {
    const error = badRequestOf(() => validateRequest(pkg, request({ LULC: { bands: [withValue(12, 3, 5)] } })));
    expect(error.detail).toBe(
      'Input LULC band class has value 12 at row 3, column 5; classes are integers 0..9 (class indices, not standardized or scaled values).',
    );
    expect(badRequestOf(() => validateRequest(pkg, request({ LULC: { bands: [withValue(10, 0, 0)] } }))).detail).toMatch(/value 10 at row 0, column 0/);
    expect(badRequestOf(() => validateRequest(pkg, request({ LULC: { bands: [withValue(-1, 223, 223)] } }))).detail).toMatch(
      /value -1 at row 223, column 223; classes are integers 0\.\.9/,
    );
  });

  it('refuses values that are not integers', () => {
    const error = badRequestOf(() => validateRequest(pkg, request({ LULC: { bands: [withValue(2.5, 100, 7)] } })));
    expect(error.detail).toMatch(/^Input LULC band class has value 2\.5 at row 100, column 7; classes are integers 0\.\.9/);
  });

  it('refuses them in a Raster through generate(), before any ONNX run', async () => {
    onnxRuns = 0;
    const raster: Raster = { ...lulc, bands: [withValue(255, 50, 60)] };
    const error = await rejectedWith(runtime.generate(request({ LULC: raster })));
    expect(error.detail).toMatch(/band class has value 255 at row 50, column 60; classes are integers 0\.\.9/);
    expect(onnxRuns).toBe(0);
    // the valid raster runs
    expect((await runtime.generate(request({ LULC: lulc }))).outputs.DEM!.bands[0]!.length).toBe(224 * 224);
  });

  it('refuses an offset for LULC: class indices are not standardized, so a shift would change classes', () => {
    const error = badRequestOf(() => validateRequest(pkg, request({ LULC: lulc }, { offsets: { LULC: 1 } })));
    expect(error.detail).toBe('offsets.LULC does not apply: LULC values are class indices, which are not standardized.');
    // before, class 10 with offset 1 became class 9 and class 0 became -1 (an all-zero one-hot)
    badRequestOf(() => validateRequest(pkg, request({ LULC: { bands: [withValue(10, 0, 0)] } }, { offsets: { lulc: 1 } })));
    // offset 0 changes nothing and stays allowed, as do offsets of other inputs given with LULC
    const valid = validateRequest(pkg, request({ LULC: lulc }, { offsets: { LULC: 0, S2L2A: 1000 } }));
    expect([...(valid.inputs.LULC as { pixels: Float32Array }).pixels]).toEqual([...lulc.bands[0]!]);
  });

  it('reports the position on the caller\'s raster when the input is tiled, and runs no chip', async () => {
    const width = 300;
    const height = 260;
    const band = new Float32Array(width * height).fill(4);
    band[250 * width + 290] = 11;
    const big: Raster = { ...lulc, width, height, bands: [band], mask: new Uint8Array(width * height).fill(255) };
    onnxRuns = 0;
    const error = await rejectedWith(generateTiled(runtime, { inputs: { LULC: big }, outputs: ['DEM'], seed: 1, timesteps: 1 }));
    expect(error.detail).toMatch(/band class has value 11 at row 250, column 290; classes are integers 0\.\.9/);
    expect(onnxRuns).toBe(0);
  });

  it('is a bad-request error from the CLI for a GeoTIFF with a value outside the classes or a fraction', async () => {
    for (const [value, shown] of [[12, '12'], [3.25, '3.25']] as const) {
      const file = join(dir, `lulc-${shown}.tif`);
      writeFileSync(file, encodeGeoTiff({ ...lulc, bands: [withValue(value, 7, 9)] }));
      const error = await rejectedWith(
        runGenerateCli(['--model', MODEL_DIR, '--input', `LULC=${file}`, '--output', 'DEM', '--timesteps', '1', '--out', join(dir, 'out')], () => {}),
      );
      expect(error.detail).toBe(
        `Input LULC band class has value ${shown} at row 7, column 9; classes are integers 0..9 (class indices, not standardized or scaled values).`,
      );
    }
  });

  it('is a bad-request error from the CLI for a class map with declared no-data pixels, with the class-0 hint', async () => {
    const mask = new Uint8Array(224 * 224).fill(255);
    mask[3] = 0;
    mask[500] = 0;
    const file = join(dir, 'lulc-nodata.tif');
    writeFileSync(file, encodeGeoTiff({ ...lulc, mask }, { nodata: 255 }));
    const error = await rejectedWith(
      runGenerateCli(['--model', MODEL_DIR, '--input', `LULC=${file}`, '--output', 'DEM', '--timesteps', '1', '--out', join(dir, 'out')], () => {}),
    );
    expect(error.detail).toBe(
      `${file} has 2 no-data pixels; the model needs complete inputs. For LULC, write them as class 0 ("No data") without declaring a nodata value.`,
    );
  });
});

describe('tiled requests', { timeout: 120_000 }, () => {
  it('start no further chip once one chip was refused', async () => {
    // 600x224: chips at x = 0, 192, 376; the NaN at column 300 lies in the second chip only.
    const width = 600;
    const m = pkg.manifest.modalities.S2L2A!;
    const bands = m.mean.map((mean) => new Float32Array(width * 224).fill(mean));
    bands[0]![10 * width + 300] = Number.NaN;
    const s2: Raster = { ...lulc, width, bands, mask: new Uint8Array(width * 224).fill(255) };
    encoderRuns.length = 0;
    const error = await rejectedWith(generateTiled(runtime, { inputs: { S2L2A: s2 }, outputs: ['DEM'], seed: 1, timesteps: 1, concurrency: 2 }));
    expect(error.detail).toMatch(/non-finite value \(NaN\) at row 10, column 108/); // column 300 - 192 in the chip
    // the first chip was already running and finishes; the third is never started
    expect(encoderRuns).toEqual([1]);
  });
});
