/**
 * The exporter's own checks: the Python unit tests (patchify order, sin-cos positions, FSQ, state-dict layouts,
 * committed manifest) and graph-by-graph agreement of the committed ONNX package with the PyTorch modules it was
 * exported from (models/exporter/reference.py), run through the real onnxruntime-node.
 * Tolerances: torch and onnxruntime differ by 1e-7..2e-6 in float32 here; a wrong patch order shows as >= 5e-5.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPackage } from '../src/model/manifest.js';
import { Rng } from '../src/model/rng.js';
import { PYTHON, ReferenceCase, type ReferenceResult } from './helpers/reference-case.js';

const ROOT = resolve(import.meta.dirname, '..');
const PKG = join(ROOT, 'models', 'terramind-test-random');
const EXPORTER = join(ROOT, 'models', 'exporter');
const B = 2;
const D = 32;

const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' }).status === 0;

/** Seeded inputs from the model's own generator (no Math.random: failures must reproduce). */
const normals = (n: number, seed: number): Float32Array => new Rng(seed).normalArray(n);
function ints(n: number, max: number, seed: number): BigInt64Array {
  const rng = new Rng(seed);
  return BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rng.uniform() * max)));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i += 1) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
function std(a: Float32Array): number {
  let s = 0;
  let s2 = 0;
  for (const v of a) {
    s += v;
    s2 += v * v;
  }
  const mean = s / a.length;
  return Math.sqrt(s2 / a.length - mean * mean);
}

describe('exporter python unit tests', () => {
  it.skipIf(!hasTorch)('pass (patchify, sin-cos, FSQ, state-dict layouts, committed manifest)', () => {
    const r = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', 'tests'], {
      cwd: EXPORTER,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\nOK\s*$/); // "OK (skipped=n)" would mean a check did not run
    expect(Number(/Ran (\d+) tests/.exec(r.stderr)?.[1])).toBeGreaterThanOrEqual(17);
  });
});

describe.skipIf(!hasTorch)('committed package agrees with the PyTorch modules', () => {
  const reference = new ReferenceCase();
  const sessions = new Map<string, ort.InferenceSession>();
  let result: ReferenceResult;
  const inputs = {
    S2L2A: normals(B * 12 * 224 * 224, 1),
    S1GRD: normals(B * 2 * 224 * 224, 2),
    // LULC given as a class map image: the reference runs its tokenizer encoder and returns the ids
    LULC: Float32Array.from(ints(B * 224 * 224, 10, 3), Number),
    NDVI: ints(B * 196, 288, 4),
  };
  const demTokens = ints(B * 196, 288, 5);
  const demNoise = normals(B * 224 * 224, 6);
  const lulcTokens = ints(B * 196, 270, 7);

  const put = reference.tensor.bind(reference);
  const read = reference.read.bind(reference);
  async function run(file: string, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    let s = sessions.get(file);
    if (!s) {
      s = await ort.InferenceSession.create(join(PKG, file));
      sessions.set(file, s);
    }
    return s.run(feeds);
  }

  beforeAll(async () => {
    const c = {
      inputs: {
        S2L2A: put('s2.bin', inputs.S2L2A, [B, 12, 224, 224]),
        S1GRD: put('s1.bin', inputs.S1GRD, [B, 2, 224, 224]),
        LULC: put('lulc.bin', inputs.LULC, [B, 1, 224, 224]),
        NDVI: put('ndvi.bin', inputs.NDVI, [B, 196]),
      },
      outputs: {
        // one step from t=999 (alpha_bar 0): decoded = clamp(UNet(noise, 999, code)), a single graph call
        DEM: { tokens: put('dem_t.bin', demTokens, [B, 196]), noise: put('dem_n.bin', demNoise, [B, 1, 224, 224]), timesteps: 1 },
        LULC: { tokens: put('lulc_t.bin', lulcTokens, [B, 196]) },
        S1RTC: {},
      },
    };
    result = await reference.run(PKG, c, 120_000);
  });
  afterAll(() => reference.remove());

  it('the manifest passes the runtime schema', () => {
    const pkg = loadPackage(PKG);
    expect(pkg.manifest.architecture.dim).toBe(D);
    expect(pkg.outputs).toEqual(['S2L2A', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI']);
  });

  let context: Float32Array;
  it('tokenizer encoder, embeddings and encoder reproduce the reference context', async () => {
    const lulc = await run('tokenizer_encoder_LULC.onnx', { image: new ort.Tensor('float32', inputs.LULC, [B, 1, 224, 224]) });
    const lulcIds = lulc.ids!.data as BigInt64Array;
    const refIds = read(result.encodedIds.LULC!) as BigInt64Array;
    let same = 0;
    for (let i = 0; i < refIds.length; i += 1) if (refIds[i] === lulcIds[i]) same += 1;
    // FSQ rounds sigmoid outputs: a value on a rounding edge may flip by float noise, nothing more
    expect(same / refIds.length).toBeGreaterThan(0.99);

    const parts = [
      await run('embed_S2L2A.onnx', { pixels: new ort.Tensor('float32', inputs.S2L2A, [B, 12, 224, 224]) }),
      await run('embed_S1GRD.onnx', { pixels: new ort.Tensor('float32', inputs.S1GRD, [B, 2, 224, 224]) }),
      await run('embed_LULC.onnx', { ids: new ort.Tensor('int64', refIds, [B, 196]) }),
      await run('embed_NDVI.onnx', { ids: new ort.Tensor('int64', inputs.NDVI, [B, 196]) }),
    ];
    // concatenate along N in case.json's input order: [B, 4*196, D]
    const n = parts.length * 196;
    const tokens = new Float32Array(B * n * D);
    const emb = new Float32Array(B * n * D);
    parts.forEach((p, k) => {
      const t = p.tokens!.data as Float32Array;
      const e = p.emb!.data as Float32Array;
      for (let b = 0; b < B; b += 1) {
        tokens.set(t.subarray(b * 196 * D, (b + 1) * 196 * D), (b * n + k * 196) * D);
        emb.set(e.subarray(b * 196 * D, (b + 1) * 196 * D), (b * n + k * 196) * D);
      }
    });
    const enc = await run('encoder.onnx', {
      tokens: new ort.Tensor('float32', tokens, [B, n, D]),
      emb: new ort.Tensor('float32', emb, [B, n, D]),
    });
    context = enc.context!.data as Float32Array;
    const ref = read(result.context) as Float32Array;
    expect(result.context.shape).toEqual([B, n, D]);
    expect(std(ref)).toBeGreaterThan(0.01);
    expect(maxAbsDiff(context, ref)).toBeLessThan(1e-5);
  });

  it('decoder + heads reproduce the reference logits for every requested output', async () => {
    for (const m of ['DEM', 'LULC', 'S1RTC']) {
      const q = readFileSync(join(PKG, `queries_${m}.bin`));
      const one = new Float32Array(q.buffer.slice(q.byteOffset, q.byteOffset + q.byteLength));
      const queries = new Float32Array(B * 196 * D);
      for (let b = 0; b < B; b += 1) queries.set(one, b * 196 * D);
      const dec = await run('decoder.onnx', {
        context: new ort.Tensor('float32', context, [B, context.length / B / D, D]),
        queries: new ort.Tensor('float32', queries, [B, 196, D]),
      });
      const head = await run(`head_${m}.onnx`, { hidden: dec.hidden! });
      const ref = read(result.logits[m]!) as Float32Array;
      expect(head.logits!.dims).toEqual(result.logits[m]!.shape);
      expect(std(ref)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(head.logits!.data as Float32Array, ref)).toBeLessThan(1e-5);
    }
  });

  it('UNet step and LULC decoder reproduce the reference decoded outputs', async () => {
    const pkg = loadPackage(PKG);
    const codes = (ids: BigInt64Array, levels: number[]) => {
      // FSQ index -> code in [0,1], dimension 0 least significant, [B,F,14,14]
      const out = new Float32Array(B * levels.length * 196);
      for (let b = 0; b < B; b += 1)
        for (let i = 0; i < 196; i += 1) {
          let v = Number(ids[b * 196 + i]!);
          levels.forEach((l, f) => {
            out[(b * levels.length + f) * 196 + i] = (v % l) / (l - 1);
            v = Math.floor(v / l);
          });
        }
      return new ort.Tensor('float32', out, [B, levels.length, 14, 14]);
    };
    const demLevels = pkg.manifest.modalities.DEM!.output!.tokenizer.fsqLevels;
    const unet = await run('unet_DEM.onnx', {
      x: new ort.Tensor('float32', demNoise, [B, 1, 224, 224]),
      t: new ort.Tensor('int64', BigInt64Array.from([999n, 999n]), [B]),
      code: codes(demTokens, demLevels),
    });
    const x0 = Float32Array.from(unet.x0!.data as Float32Array, (v) => Math.min(1, Math.max(-1, v)));
    const refDem = read(result.decoded.DEM!) as Float32Array;
    expect(std(refDem)).toBeGreaterThan(0.05);
    expect(maxAbsDiff(x0, refDem)).toBeLessThan(2e-5);

    const lulcLevels = pkg.manifest.modalities.LULC!.output!.tokenizer.fsqLevels;
    const lulc = await run('decoder_LULC.onnx', { code: codes(lulcTokens, lulcLevels) });
    const refLulc = read(result.decoded.LULC!) as Float32Array;
    expect(lulc.logits!.dims).toEqual([B, 10, 224, 224]);
    expect(std(refLulc)).toBeGreaterThan(0.01);
    expect(maxAbsDiff(lulc.logits!.data as Float32Array, refLulc)).toBeLessThan(1e-5);
  });
});
