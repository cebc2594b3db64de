import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { OgcError } from '../src/errors.js';
import { readGeoTiffRaster } from '../src/cli/read-input.js';
import type { Raster } from '../src/raster/raster.js';
import { createModelRuntime, type GenerateRequest, type ModelRuntime } from '../src/model/runtime.js';

const MODEL_DIR = fileURLToPath(new URL('../models/terramind-test-random', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('./fixtures/terramind-examples/', import.meta.url));
// Batches of 2 run as soon as both callers arrived; the wait only matters for a lone straggler.
const config = { ...loadConfig({}), BATCH_MAX_SIZE: 2, BATCH_MAX_WAIT_MS: 1000, INTRA_OP_THREADS: 1 };

let runtime: ModelRuntime;
let s2: Raster;
let s1: Raster;
let lulc: Raster;
const runs: { part: string; rows: number; callers: number }[] = [];

beforeAll(async () => {
  runtime = createModelRuntime(config, undefined, { modelDir: MODEL_DIR, onRun: (part, rows, callers) => runs.push({ part, rows, callers }) });
  s2 = await readGeoTiffRaster(`${EXAMPLES}S2L2A/38D_378R_2_3.tif`, 'S2L2A');
  s1 = await readGeoTiffRaster(`${EXAMPLES}S1RTC/38D_378R_2_3.tif`, 'S1RTC');
  lulc = await readGeoTiffRaster(`${EXAMPLES}LULC/38D_378R_2_3.tif`, 'LULC');
}, 60_000);
afterAll(() => runtime?.close());

const bytes = (a: Float32Array[]) => Buffer.concat(a.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
const base = (): GenerateRequest => ({ inputs: { S2L2A: s2 }, outputs: ['DEM', 'LULC'], seed: 7, timesteps: 3 });

async function badRequestOf(request: GenerateRequest): Promise<OgcError> {
  try {
    await runtime.generate(request);
  } catch (error) {
    expect(error).toBeInstanceOf(OgcError);
    expect((error as OgcError).status).toBe(400);
    return error as OgcError;
  }
  throw new Error('expected a bad-request error');
}

describe('model runtime on the committed random package', { timeout: 120_000 }, () => {
  it('warms up every part', async () => {
    await runtime.warmUp();
    const stats = runtime.stats();
    expect(stats.provider).toBe('cpu');
    const opened = Object.keys(stats.sessionCreateMs);
    expect(opened).toContain('encoder.onnx');
    expect(opened).toContain('unet_DEM.onnx');
    expect(opened).toContain('decoder_LULC.onnx');
    expect(opened).toContain('tokenizer_encoder_LULC.onnx');
  });

  it('is deterministic: same seed gives identical bytes, another seed differs', async () => {
    const a = await runtime.generate(base());
    const b = await runtime.generate(base());
    const c = await runtime.generate({ ...base(), seed: 8 });
    expect(bytes(a.outputs.DEM!.bands).equals(bytes(b.outputs.DEM!.bands))).toBe(true);
    expect([...a.outputs.LULC!.tokens]).toEqual([...b.outputs.LULC!.tokens]);
    expect(bytes(a.outputs.DEM!.bands).equals(bytes(c.outputs.DEM!.bands))).toBe(false);
    expect([...a.outputs.DEM!.tokens]).not.toEqual([...c.outputs.DEM!.tokens]);
    // another chip id draws another stream
    const d = await runtime.generate({ ...base(), chipId: 'r0c1' });
    expect([...a.outputs.DEM!.tokens]).not.toEqual([...d.outputs.DEM!.tokens]);
    // an output does not change when other outputs are requested with it
    const demOnly = await runtime.generate({ ...base(), outputs: ['DEM'] });
    expect(bytes(demOnly.outputs.DEM!.bands).equals(bytes(a.outputs.DEM!.bands))).toBe(true);
  });

  it('returns the right shapes, units and the clamp range', async () => {
    const result = await runtime.generate({ inputs: { S2L2A: s2, S1RTC: s1 }, outputs: ['S2L2A', 'DEM', 'LULC', 'NDVI'], seed: 1, timesteps: 2 });
    const m = runtime.manifest.modalities;
    const s2out = result.outputs.S2L2A!;
    expect(s2out.bands.length).toBe(12);
    expect(s2out.bandNames).toEqual(m.S2L2A!.bands);
    s2out.bands.forEach((band, c) => {
      expect(band.length).toBe(224 * 224);
      const lo = m.S2L2A!.mean[c]! - m.S2L2A!.std[c]!;
      const hi = m.S2L2A!.mean[c]! + m.S2L2A!.std[c]!;
      let min = Infinity;
      let max = -Infinity;
      for (const v of band) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(min).toBeGreaterThanOrEqual(lo - 1e-2);
      expect(max).toBeLessThanOrEqual(hi + 1e-2);
      expect(max).toBeGreaterThan(min);
    });
    const dem = result.outputs.DEM!.bands[0]!;
    expect(Math.max(...dem) - Math.min(...dem)).toBeGreaterThan(0);
    const classes = result.outputs.LULC!.bands[0]!;
    expect(classes.every((v) => Number.isInteger(v) && v >= 0 && v <= 9)).toBe(true);
    expect(result.outputs.LULC!.classLogits!.length).toBe(10);
    expect(result.outputs.NDVI!.bands.length).toBe(1);
    // the chip keeps the input's grid
    expect(result.outputs.DEM!.raster!.crs).toBe('EPSG:32736');
    expect(result.outputs.DEM!.raster!.transform).toEqual(s2.transform);
    expect(result.seed).toBe(1);
  });

  it('applies the per-modality offset to standardization and de-standardization', async () => {
    const plain = await runtime.generate({ ...base(), outputs: ['S2L2A'] });
    const shifted = await runtime.generate({
      ...base(),
      inputs: { S2L2A: { bands: s2.bands.map((b) => b.map((v) => v + 1000)) } },
      outputs: ['S2L2A'],
      offsets: { S2L2A: 1000 },
    });
    // same standardized input -> same tokens; outputs move by the offset
    expect([...shifted.outputs.S2L2A!.tokens]).toEqual([...plain.outputs.S2L2A!.tokens]);
    const a = plain.outputs.S2L2A!.bands[3]!;
    const b = shifted.outputs.S2L2A!.bands[3]!;
    for (let i = 0; i < a.length; i += 997) expect(b[i]! - a[i]!).toBeCloseTo(1000, 1);
  });

  it('thinks in LULC: generates its tokens first and conditions the outputs on them', async () => {
    const plain = await runtime.generate(base());
    const tim = await runtime.generate({ ...base(), thinking: ['LULC'] });
    expect(tim.thought).toEqual(['LULC']);
    expect(plain.thought).toEqual([]);
    // the LULC output is the thought itself (no second draw): same stream as the plain run
    expect([...tim.outputs.LULC!.tokens]).toEqual([...plain.outputs.LULC!.tokens]);
    // DEM is conditioned on a longer context, so its logits (and tokens) change
    expect([...tim.outputs.DEM!.tokens]).not.toEqual([...plain.outputs.DEM!.tokens]);
    // skipped when LULC is already an input
    const given = await runtime.generate({ ...base(), inputs: { S2L2A: s2, LULC: lulc }, thinking: ['LULC'] });
    expect(given.thought).toEqual([]);
    expect(given.timings.stages['encode.thinking']).toBeUndefined();
    expect(tim.timings.stages['encode.thinking']).toBeGreaterThan(0);
  });

  it('batches concurrent callers into one run with the same results as alone', async () => {
    const alone = await Promise.all([1, 2].map(async (seed) => runtime.generate({ ...base(), seed })));
    runs.length = 0;
    const together = await Promise.all([1, 2].map((seed) => runtime.generate({ ...base(), seed })));
    const encoderRuns = runs.filter((r) => r.part === 'encoder.onnx');
    expect(encoderRuns).toEqual([{ part: 'encoder.onnx', rows: 2, callers: 2 }]);
    expect(runs.filter((r) => r.part === 'unet_DEM.onnx').every((r) => r.rows === 2)).toBe(true);
    together.forEach((result, i) => {
      expect([...result.outputs.DEM!.tokens]).toEqual([...alone[i]!.outputs.DEM!.tokens]);
      expect([...result.outputs.LULC!.bands[0]!]).toEqual([...alone[i]!.outputs.LULC!.bands[0]!]);
      const x = result.outputs.DEM!.bands[0]!;
      const y = alone[i]!.outputs.DEM!.bands[0]!;
      let worst = 0;
      for (let p = 0; p < x.length; p += 1) worst = Math.max(worst, Math.abs(x[p]! - y[p]!));
      expect(worst).toBeLessThan(1e-2); // metres; batch-size-dependent float summation order only
    });
  });

  it('turns bad requests into actionable bad-request errors', async () => {
    expect((await badRequestOf({ ...base(), outputs: ['XYZ'] })).detail).toMatch(/Unknown output modality 'XYZ'/);
    expect((await badRequestOf({ ...base(), outputs: ['S2L1C'] })).detail).toMatch(/cannot generate S2L1C.*It can generate: S2L2A/);
    expect((await badRequestOf({ ...base(), inputs: { FOO: s2 } })).detail).toMatch(/Unknown input modality 'FOO'/);
    expect((await badRequestOf({ ...base(), inputs: { S2L2A: { bands: s2.bands.slice(0, 11) } } })).detail).toMatch(
      /has 11 bands; this model needs 12 in this order: B01/,
    );
    expect((await badRequestOf({ ...base(), inputs: { S2L2A: { bands: s2.bands.map((b) => b.slice(0, 100)) } } })).detail).toMatch(
      /has 100 values; a 224x224 chip needs 50176/,
    );
    const nan = s2.bands.map((b) => b.slice());
    nan[2]![224 * 5 + 9] = Number.NaN;
    expect((await badRequestOf({ ...base(), inputs: { S2L2A: { bands: nan } } })).detail).toMatch(/B03 has a non-finite value \(NaN\) at row 5, column 9/);
    expect((await badRequestOf({ ...base(), inputs: { S2L2A: { ...s2, width: 300 } } })).detail).toMatch(/300x224 pixels/);
    expect((await badRequestOf({ ...base(), timesteps: 0 })).detail).toMatch(/timesteps/);
    expect((await badRequestOf({ ...base(), topP: 1.5 })).detail).toMatch(/topP/);
    expect((await badRequestOf({ ...base(), thinking: ['DEM'] })).detail).toMatch(/Thinking in DEM is not possible/);
    expect((await badRequestOf({ ...base(), inputs: { LULC: { tokens: [1, 2, 3] } } })).detail).toMatch(/196 ids/);
    const badClasses = { bands: [lulc.bands[0]!.map((v, i) => (i === 0 ? 12 : v))] };
    expect((await badRequestOf({ ...base(), inputs: { LULC: badClasses } })).detail).toMatch(/classes are integers 0\.\.9/);
    // nothing crashed: a good request still runs afterwards
    expect((await runtime.generate(base())).outputs.DEM).toBeDefined();
  });

  it('falls back through the configured execution providers by itself', async () => {
    // The suite runs onnxruntime-node's CPU build (.npmrc onnxruntime-node-install=skip): no CUDA provider
    // library is installed, so 'cuda' must fail and CPU must run the package with the same bytes as CPU alone.
    const bin = fileURLToPath(new URL('../node_modules/onnxruntime-node/bin/napi-v6/linux/x64/', import.meta.url));
    for (const library of ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']) {
      expect(existsSync(`${bin}${library}`), `${library}: this test expects the CPU-only onnxruntime-node install`).toBe(false);
    }
    const fallback = createModelRuntime({ ...config, EXECUTION_PROVIDERS: ['cuda', 'cpu'] }, undefined, { modelDir: MODEL_DIR });
    try {
      const a = await fallback.generate(base());
      const stats = fallback.stats();
      expect(stats.provider).toBe('cpu');
      expect(stats.unavailableProviders).toEqual(['cuda']);
      const b = await runtime.generate(base());
      expect(bytes(a.outputs.DEM!.bands).equals(bytes(b.outputs.DEM!.bands))).toBe(true);
      expect([...a.outputs.LULC!.tokens]).toEqual([...b.outputs.LULC!.tokens]);
    } finally {
      await fallback.close();
    }
  });

  it('takes LULC as tokens or as a class image', async () => {
    const fromImage = await runtime.generate({ inputs: { LULC: lulc }, outputs: ['DEM'], seed: 3, timesteps: 1 });
    expect(fromImage.outputs.DEM!.bands[0]!.length).toBe(224 * 224);
    const tokens = await runtime.generate({ inputs: { LULC: { tokens: new Int32Array(196).fill(5) } }, outputs: ['LULC'], seed: 3 });
    expect(tokens.outputs.LULC!.tokens.length).toBe(196);
  });
});
