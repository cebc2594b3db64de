import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGeoTiffRaster } from '../src/cli/read-input.js';
import {
  codesFor,
  decodeLogits,
  diffusionDecode,
  encode,
  lulcDecode,
  standardize,
  tokenizeInput,
  type EncodedContext,
  type ModelContext,
} from '../src/model/generate.js';
import { loadPackage } from '../src/model/manifest.js';
import { Rng } from '../src/model/rng.js';
import { ModelSessions } from '../src/model/sessions.js';
import { PYTHON, REFERENCE_RUNNER, ReferenceCase, type ReferenceResult, type TensorSpec } from './helpers/reference-case.js';

/**
 * Equivalence with the PyTorch reference runner (docs/model-package.md, "Reference runner protocol"): the same
 * standardized inputs, token ids and noise go through models/exporter/reference.py and through the TypeScript stages
 * on the ONNX package; context, logits and decoded outputs must agree within 1e-4.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = join(ROOT, 'models/terramind-test-random');
const EXAMPLES = join(ROOT, 'test/fixtures/terramind-examples');
const CHIPS = ['38D_378R_2_3', '282D_485L_3_3'];
const B = CHIPS.length;
const TIMESTEPS = 5;
const ready = existsSync(REFERENCE_RUNNER) && existsSync(PYTHON);

let reference: ReferenceCase;
let ctx: ModelContext;
let sessions: ModelSessions;
let result: ReferenceResult;
const inputs: { s2: Float32Array; lulcIds: BigInt64Array; ndviImage: Float32Array } = {} as never;
const tokens: Record<string, BigInt64Array> = {};
let noiseDem: Float32Array;

const writeTensor = (name: string, data: Float32Array | BigInt64Array, shape: number[]) => reference.tensor(name, data, shape);
const readTensor = (spec: TensorSpec) => reference.read(spec);

/** Largest |a - b| / max(1, |b|): absolute for values near 0..1, relative for large logits. */
function worstError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i += 1) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  if (process.env.SHOW_ERRORS) console.log("worst", worst);
  return worst;
}

const randomIds = (rng: Rng, n: number, vocab: number) => BigInt64Array.from({ length: n }, () => BigInt(rng.nextUint32() % vocab));

beforeAll(async () => {
  if (!ready) return;
  const pkg = loadPackage(MODEL_DIR);
  sessions = new ModelSessions(pkg, { executionProviders: ['cpu'], intraOpThreads: 0, interOpThreads: 0 });
  ctx = { pkg, run: (part, feeds) => sessions.run(part, feeds), queryCache: new Map() };
  const m = pkg.manifest.modalities;
  reference = new ReferenceCase();

  const s2 = new Float32Array(B * 12 * 224 * 224);
  const ndvi = new Float32Array(B * 224 * 224);
  for (const [b, id] of CHIPS.entries()) {
    const r = await readGeoTiffRaster(join(EXAMPLES, 'S2L2A', `${id}.tif`));
    s2.set(standardize(r.bands, m.S2L2A!.mean, m.S2L2A!.std), b * 12 * 224 * 224);
    const n = await readGeoTiffRaster(join(EXAMPLES, 'NDVI', `${id}.tif`));
    ndvi.set(standardize(n.bands, m.NDVI!.mean, m.NDVI!.std), b * 224 * 224);
  }
  const rng = new Rng(2024);
  inputs.s2 = s2;
  inputs.ndviImage = ndvi;
  inputs.lulcIds = randomIds(rng, B * 196, m.LULC!.output!.vocabSize);
  tokens.DEM = randomIds(rng, B * 196, m.DEM!.output!.vocabSize);
  tokens.S1RTC = randomIds(rng, B * 196, m.S1RTC!.output!.vocabSize);
  tokens.LULC = randomIds(rng, B * 196, m.LULC!.output!.vocabSize);
  noiseDem = rng.normalArray(B * 224 * 224);
  const noiseS1 = rng.normalArray(B * 2 * 224 * 224);

  // Inputs in manifest order, which is also the order encode() concatenates them in.
  const caseJson = {
    inputs: {
      S2L2A: writeTensor('in_S2L2A.bin', s2, [B, 12, 224, 224]),
      LULC: writeTensor('in_LULC.bin', inputs.lulcIds, [B, 196]),
      NDVI: writeTensor('in_NDVI.bin', ndvi, [B, 1, 224, 224]),
    },
    outputs: {
      DEM: { tokens: writeTensor('tok_DEM.bin', tokens.DEM, [B, 196]), noise: writeTensor('noise_DEM.bin', noiseDem, [B, 1, 224, 224]), timesteps: TIMESTEPS },
      S1RTC: { tokens: writeTensor('tok_S1RTC.bin', tokens.S1RTC, [B, 196]), noise: writeTensor('noise_S1RTC.bin', noiseS1, [B, 2, 224, 224]), timesteps: TIMESTEPS },
      LULC: { tokens: writeTensor('tok_LULC.bin', tokens.LULC, [B, 196]) },
    },
  };
  result = await reference.run(MODEL_DIR, caseJson);
}, 300_000);

afterAll(async () => {
  await sessions?.close();
  reference?.remove();
});

describe.skipIf(!ready)('equivalence with the PyTorch reference runner (skipped without models/exporter/reference.py)', { timeout: 120_000 }, () => {
  let context: EncodedContext;

  it('tokenizes an NDVI image to the same ids', async () => {
    const ours = await tokenizeInput(ctx, 'NDVI', inputs.ndviImage, B);
    const theirs = readTensor(result.encodedIds.NDVI!) as BigInt64Array;
    expect(theirs.length).toBe(B * 196);
    // an id can flip only where a latent sits on an FSQ rounding boundary
    let differ = 0;
    for (let i = 0; i < ours.length; i += 1) if (ours[i] !== theirs[i]) differ += 1;
    expect(differ / ours.length).toBeLessThan(0.01);
  });

  it('encodes to the same context', async () => {
    const ndviIds = readTensor(result.encodedIds.NDVI!) as BigInt64Array;
    context = await encode(ctx, { S2L2A: { pixels: inputs.s2 }, LULC: { ids: inputs.lulcIds }, NDVI: { ids: ndviIds } }, B);
    expect(result.context.shape).toEqual([B, 3 * 196, ctx.pkg.manifest.architecture.dim]);
    expect(worstError(context.data, readTensor(result.context) as Float32Array)).toBeLessThan(1e-4);
  });

  it('decodes the same logits per output', async () => {
    for (const id of ['DEM', 'S1RTC', 'LULC'] as const) {
      const ours = await decodeLogits(ctx, context, id);
      expect(worstError(ours, readTensor(result.logits[id]!) as Float32Array)).toBeLessThan(1e-4);
    }
  });

  it('runs the DDIM loop to the same pixels from the same tokens and noise', async () => {
    const dem = await diffusionDecode(ctx, 'DEM', codesFor(ctx.pkg, 'DEM', tokens.DEM!, B), noiseDem, B, TIMESTEPS);
    expect(worstError(dem, readTensor(result.decoded.DEM!) as Float32Array)).toBeLessThan(1e-4);
    expect(Math.max(...dem)).toBeLessThanOrEqual(1);
    expect(Math.min(...dem)).toBeGreaterThanOrEqual(-1);
    const noiseS1 = readTensor({ file: 'noise_S1RTC.bin', dtype: 'float32', shape: [] }) as Float32Array;
    const s1 = await diffusionDecode(ctx, 'S1RTC', codesFor(ctx.pkg, 'S1RTC', tokens.S1RTC!, B), noiseS1, B, TIMESTEPS);
    expect(worstError(s1, readTensor(result.decoded.S1RTC!) as Float32Array)).toBeLessThan(1e-4);
  });

  it('decodes LULC tokens to the same class logits', async () => {
    const ours = await lulcDecode(ctx, 'LULC', codesFor(ctx.pkg, 'LULC', tokens.LULC!, B), B);
    const theirs = readTensor(result.decoded.LULC!) as Float32Array;
    expect(result.decoded.LULC!.shape).toEqual([B, 10, 224, 224]);
    expect(worstError(ours.logits, theirs)).toBeLessThan(1e-4);
  });
});
