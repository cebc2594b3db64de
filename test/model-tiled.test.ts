import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGeoTiffRaster } from '../src/cli/read-input.js';
import { loadConfig } from '../src/config.js';
import { OgcError } from '../src/errors.js';
import { createModelRuntime, type GeneratedOutput, type ModelRuntime } from '../src/model/runtime.js';
import { chipOffsets, generateTiled, rampWeights } from '../src/model/tiled.js';
import type { Raster } from '../src/raster/raster.js';

/**
 * Blending of overlapping chips (terramind-reference.md §4.5) against the reference formula, computed here:
 * weight(i) over an overlap of n pixels ramps down as cos(pi (i+1) / (n+1)) / 2 + 0.5, up as one minus that,
 * plus 1e-6; the blend is sum(w * chip) / sum(w) per pixel, LULC on class logits with the argmax after.
 */
const MODEL_DIR = fileURLToPath(new URL('../models/terramind-test-random', import.meta.url));
const CHIP = fileURLToPath(new URL('./fixtures/terramind-examples/S2L2A/38D_378R_2_3.tif', import.meta.url));
const S1_CHIP = fileURLToPath(new URL('./fixtures/terramind-examples/S1RTC/38D_378R_2_3.tif', import.meta.url));

/** The reference ramp, in float64. */
const down = (i: number, overlap: number) => Math.cos((Math.PI * (i + 1)) / (overlap + 1)) / 2 + 0.5;

/** One chip-axis weight by the formula: 1, lowered by the ramps of the neighbours the chip has, plus 1e-6. */
function referenceWeight(p: number, hasBefore: boolean, hasAfter: boolean, crop = 224, overlap = 32): number {
  let w = 1;
  if (hasBefore && p < overlap) w = Math.min(w, 1 - down(p, overlap));
  if (hasAfter && p >= crop - overlap) w = Math.min(w, down(p - (crop - overlap), overlap));
  return w + 1e-6;
}

/** Float32 keeps about 7 digits: 1e-7 is below every difference the formula's variants make. */
function expectWeights(actual: Float32Array, expected: number[]) {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, i) => expect(Math.abs(actual[i]! - value), `weight ${i}`).toBeLessThan(1e-7));
}

describe('blend ramp', () => {
  it('matches the reference values by hand on a short axis (crop 8, overlap 3)', () => {
    // cos(pi/4)/2 + 0.5 = 0.853553..., cos(pi/2)/2 + 0.5 = 0.5, cos(3pi/4)/2 + 0.5 = 0.146446...
    const e = 1e-6;
    expectWeights(rampWeights(false, true, 8, 3), [1, 1, 1, 1, 1, 0.8535533905932737, 0.5, 0.14644660940672627].map((w) => w + e));
    expectWeights(rampWeights(true, false, 8, 3), [0.14644660940672627, 0.5, 0.8535533905932737, 1, 1, 1, 1, 1].map((w) => w + e));
    expectWeights(rampWeights(true, true, 8, 3), [0.14644660940672627, 0.5, 0.8535533905932737, 1, 1, 0.8535533905932737, 0.5, 0.14644660940672627].map((w) => w + e));
    expectWeights(rampWeights(false, false, 8, 3), Array(8).fill(1 + e));
    // Ramps that meet (crop 4 < 2 * overlap) keep the lower of the two.
    expectWeights(rampWeights(true, true, 4, 3), [0.14644660940672627, 0.5, 0.5, 0.14644660940672627].map((w) => w + e));
  });

  it('matches cos(pi (i+1) / 33) / 2 + 0.5 (+1e-6) over the 32-pixel overlap of 224-pixel chips', () => {
    const after = rampWeights(false, true);
    const before = rampWeights(true, false);
    // The values at i = 0, 1, 15, 16, 31, computed from the formula outside this code base.
    const byHand: [number, number][] = [
      [0, 0.9977359612865423],
      [1, 0.9909643486313533],
      [15, 0.5237909579118712],
      [16, 0.47620904208812886],
      [31, 0.0022640387134577056],
    ];
    for (const [i, value] of byHand) {
      expect(Math.abs(after[192 + i]! - (value + 1e-6)), `after[${192 + i}]`).toBeLessThan(1e-7);
      expect(Math.abs(before[i]! - (1 - value + 1e-6)), `before[${i}]`).toBeLessThan(1e-7);
    }
    expectWeights(after, Array.from({ length: 224 }, (_, p) => referenceWeight(p, false, true)));
    expectWeights(before, Array.from({ length: 224 }, (_, p) => referenceWeight(p, true, false)));
    expectWeights(rampWeights(true, true), Array.from({ length: 224 }, (_, p) => referenceWeight(p, true, true)));
  });

  it('up and down ramps of neighbouring chips sum to one across the overlap (plus 2e-6)', () => {
    const after = rampWeights(false, true);
    const before = rampWeights(true, false);
    for (let i = 0; i < 32; i += 1) expect(Math.abs(after[192 + i]! + before[i]! - (1 + 2e-6))).toBeLessThan(2e-7);
  });
});

describe('chip layout', () => {
  it('starts chips every 192 pixels and puts the last one on the border', () => {
    expect(chipOffsets(224)).toEqual([0]);
    expect(chipOffsets(225)).toEqual([0, 1]);
    expect(chipOffsets(416)).toEqual([0, 192]);
    expect(chipOffsets(417)).toEqual([0, 192, 193]);
    expect(chipOffsets(10, 4, 3)).toEqual([0, 3, 6]);
    expect(() => chipOffsets(223)).toThrow(/^Inputs must be at least 224 pixels wide and high, got 223\.$/);
  });
});

describe('generateTiled on the committed random package', { timeout: 120_000 }, () => {
  let runtime: ModelRuntime;
  let chip: Raster;
  let s1: Raster;
  // One chip per ONNX run, so a chip's values do not depend on what it was batched with.
  const config = { ...loadConfig({}), BATCH_MAX_SIZE: 1, BATCH_MAX_WAIT_MS: 0, INTRA_OP_THREADS: 1 };

  beforeAll(async () => {
    runtime = createModelRuntime(config, undefined, { modelDir: MODEL_DIR });
    chip = await readGeoTiffRaster(CHIP, 'S2L2A');
    s1 = await readGeoTiffRaster(S1_CHIP, 'S1RTC');
  });
  afterAll(() => runtime?.close());

  /** A width x height S2L2A mosaic of the real chip, mirrored at its edges, on the chip's grid. */
  function mosaic(width: number, height: number): Raster {
    const mirror = (i: number, n: number) => (i < n ? i : 2 * n - 1 - i);
    return {
      ...chip,
      width,
      height,
      bands: chip.bands.map((band) => {
        const out = new Float32Array(width * height);
        for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) out[y * width + x] = band[mirror(y, 224) * 224 + mirror(x, 224)]!;
        return out;
      }),
      mask: new Uint8Array(width * height).fill(255),
    };
  }

  it('blends 2x2 overlapping chips exactly as sum(w * chip) / sum(w), LULC by the argmax of blended logits', async () => {
    const width = 400;
    const height = 300;
    const big = mosaic(width, height);
    const request = { outputs: ['DEM', 'LULC'], seed: 5, timesteps: 1 };
    const progress: [number, number][] = [];
    const tiled = await generateTiled(runtime, { ...request, inputs: { S2L2A: big }, onChip: (done, total) => progress.push([done, total]) });
    expect(tiled.seed).toBe(5);
    expect(progress).toEqual([[1, 4], [2, 4], [3, 4], [4, 4]]);

    // The four chips alone, each with the chip id the tiler gives it (rNcM), cut from the mosaic here.
    const xs = [0, 176];
    const ys = [0, 76];
    const chips: { x: number; y: number; row: number; col: number; out: Partial<Record<string, GeneratedOutput>> }[] = [];
    for (const [row, y] of ys.entries()) {
      for (const [col, x] of xs.entries()) {
        const bands = big.bands.map((band) => {
          const c = new Float32Array(224 * 224);
          for (let j = 0; j < 224; j += 1) c.set(band.subarray((y + j) * width + x, (y + j) * width + x + 224), j * 224);
          return c;
        });
        const result = await runtime.generate({ ...request, inputs: { S2L2A: { bands } }, chipId: `r${row}c${col}` });
        chips.push({ x, y, row, col, out: result.outputs });
      }
    }

    const dem = tiled.outputs.DEM!;
    const lulc = tiled.outputs.LULC!;
    expect([dem.width, dem.height, lulc.width, lulc.height]).toEqual([width, height, width, height]);
    expect(dem.transform).toEqual(chip.transform);
    expect(dem.bandNames).toEqual(chips[0]!.out.DEM!.bandNames);
    expect(dem.mask.every((m) => m === 255)).toBe(true);

    let worstDem = 0;
    let lulcWrong = 0;
    let lulcClose = 0;
    for (let py = 0; py < height; py += 1) {
      for (let px = 0; px < width; px += 1) {
        let weightSum = 0;
        let demSum = 0;
        const logitSums = new Float64Array(10);
        for (const c of chips) {
          const i = px - c.x;
          const j = py - c.y;
          if (i < 0 || j < 0 || i >= 224 || j >= 224) continue;
          const w = referenceWeight(j, c.row > 0, c.row < ys.length - 1) * referenceWeight(i, c.col > 0, c.col < xs.length - 1);
          weightSum += w;
          demSum += w * c.out.DEM!.bands[0]![j * 224 + i]!;
          c.out.LULC!.classLogits!.forEach((plane, k) => (logitSums[k]! += w * plane[j * 224 + i]!));
        }
        const p = py * width + px;
        worstDem = Math.max(worstDem, Math.abs(dem.bands[0]![p]! - demSum / weightSum));
        // The argmax; within float32 noise of the top, a near-tie may go to either class.
        const top = Math.max(...logitSums);
        const candidates = [...logitSums.keys()].filter((k) => logitSums[k]! >= top - 1e-4 * weightSum);
        if (candidates.length > 1) lulcClose++;
        if (!candidates.includes(lulc.bands[0]![p]!)) lulcWrong++;
      }
    }
    // Float32 accumulation of metres-sized values: well under a centimetre.
    expect(worstDem).toBeLessThan(5e-3);
    expect(lulcWrong).toBe(0);
    expect(lulcClose).toBeLessThan(width * height * 0.01);
    // Where one chip alone covers the pixel, the result is that chip's value.
    expect(dem.bands[0]![10 * width + 10]).toBeCloseTo(chips[0]!.out.DEM!.bands[0]![10 * 224 + 10]!, 3);
    expect(lulc.bands[0]![10 * width + 10]).toBe(chips[0]!.out.LULC!.bands[0]![10 * 224 + 10]);
  });

  it('one chip is the chip itself', async () => {
    const request = { outputs: ['DEM'], seed: 2, timesteps: 1 };
    const tiled = await generateTiled(runtime, { ...request, inputs: { S2L2A: chip } });
    const alone = await runtime.generate({ ...request, inputs: { S2L2A: { bands: chip.bands } }, chipId: 'r0c0' });
    const a = tiled.outputs.DEM!.bands[0]!;
    const b = alone.outputs.DEM!.bands[0]!;
    let worst = 0;
    for (let p = 0; p < a.length; p += 1) worst = Math.max(worst, Math.abs(a[p]! - b[p]!));
    expect(worst).toBeLessThan(1e-3);
  });

  /**
   * The real runtime with a fault put in: the chips named in `failures` reject (after `delayMs`) instead of
   * running; every call and the calls still in flight are recorded. ONNX cannot be made to fail for one chip,
   * so this is the one wrapper in the file.
   */
  function failingRuntime(failures: Record<string, { delayMs: number }>) {
    const started: string[] = [];
    let inFlight = 0;
    const wrapped: ModelRuntime = {
      ...runtime,
      async generate(request) {
        started.push(request.chipId!);
        inFlight += 1;
        try {
          const failure = failures[request.chipId!];
          if (failure) {
            await new Promise((resolve) => setTimeout(resolve, failure.delayMs));
            throw new Error(`chip ${request.chipId} failed`);
          }
          return await runtime.generate(request);
        } finally {
          inFlight -= 1;
        }
      },
    };
    return { wrapped, started, inFlight: () => inFlight };
  }

  it('a failing chip fails the request: no further chip starts, none still runs when it rejects, and the first error is the one thrown', async () => {
    const request = { outputs: ['DEM'], seed: 3, timesteps: 1 };
    const big = mosaic(400, 300); // chips r0c0, r0c1, r1c0, r1c1

    // One at a time: the second chip fails, so the third and fourth never start and only one chip is reported done.
    const serial = failingRuntime({ r0c1: { delayMs: 0 } });
    const done: number[] = [];
    const serialError = await generateTiled(serial.wrapped, { ...request, inputs: { S2L2A: big }, concurrency: 1, onChip: (n) => done.push(n) }).catch((e: Error) => e);
    expect((serialError as Error).message).toBe('chip r0c1 failed');
    expect(serial.started).toEqual(['r0c0', 'r0c1']);
    expect(done).toEqual([1]);

    // Two at a time, both first chips failing: the one that fails first in time (r0c1) is thrown, though r0c0
    // started first; the rejection waits for r0c0 to end, and no chip after them starts.
    const parallel = failingRuntime({ r0c0: { delayMs: 200 }, r0c1: { delayMs: 0 } });
    let inFlightAtRejection = -1;
    const parallelError = await generateTiled(parallel.wrapped, { ...request, inputs: { S2L2A: big }, concurrency: 2 }).catch((e: Error) => {
      inFlightAtRejection = parallel.inFlight();
      return e;
    });
    expect((parallelError as Error).message).toBe('chip r0c1 failed');
    expect(parallel.started).toEqual(['r0c0', 'r0c1']);
    expect(inFlightAtRejection).toBe(0);
  });

  it('refuses inputs that are missing, not co-registered, or smaller than a chip', async () => {
    const refusal = async (promise: Promise<unknown>) => {
      const error = (await promise.catch((e: unknown) => e)) as OgcError;
      expect(error).toBeInstanceOf(OgcError);
      expect(error.status).toBe(400);
      return error.detail;
    };
    expect(await refusal(generateTiled(runtime, { inputs: {}, outputs: ['DEM'] }))).toBe('Give at least one input raster.');
    expect(await refusal(generateTiled(runtime, { inputs: { S2L2A: chip }, outputs: ['XYZ'] }))).toMatch(/^Unknown output modality 'XYZ'\. Known modalities: S2L2A, /);
    const notAligned = 'Input S1RTC is not on the same grid as S2L2A; inputs must be co-registered (same CRS, transform and size).';
    const shifted = { ...chip, transform: [10, 0, chip.transform[2] + 10, 0, -10, chip.transform[5]] as Raster['transform'] };
    expect(await refusal(generateTiled(runtime, { inputs: { S2L2A: chip, S1RTC: shifted }, outputs: ['DEM'] }))).toBe(notAligned);
    expect(await refusal(generateTiled(runtime, { inputs: { S2L2A: chip, S1RTC: { ...chip, crs: 'EPSG:32636' } }, outputs: ['DEM'] }))).toBe(notAligned);
    expect(await refusal(generateTiled(runtime, { inputs: { S2L2A: chip, S1RTC: { ...chip, width: 225 } }, outputs: ['DEM'] }))).toBe(notAligned);
    expect(await refusal(generateTiled(runtime, { inputs: { S2L2A: chip, S1RTC: { ...chip, height: 225 } }, outputs: ['DEM'] }))).toBe(notAligned);
    // A difference below the tolerance (1e-6 relative) is the same grid.
    const [a, b, c, d, e, f] = s1.transform;
    const nudged: Raster = { ...s1, transform: [a, b, c * (1 + 1e-9), d, e, f] };
    const small = { ...chip, width: 200, height: 200 };
    expect(await refusal(generateTiled(runtime, { inputs: { S2L2A: small }, outputs: ['DEM'] }))).toBe('Inputs must be at least 224 pixels wide and high, got 200.');
    const ok = await generateTiled(runtime, { inputs: { S2L2A: chip, S1RTC: nudged }, outputs: ['DEM'], seed: 1, timesteps: 1 });
    expect(ok.outputs.DEM!.width).toBe(224);
  });
});
