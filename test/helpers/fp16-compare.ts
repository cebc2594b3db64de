/**
 * How far an fp16 package (weights stored as float16, `export.py --fp16`) is from its fp32 package on the same
 * inputs, stage by stage through src/model: tokenizer encoders, encoder context, decoder logits (and the tokens
 * default sampling draws from them), one UNet step and a full DDIM decode from the same tokens and noise.
 *
 *   npx tsx test/helpers/fp16-compare.ts [fp32-package] [fp16-package]
 * prints the figures (defaults: models/terramind-test-random and models/build/terramind-test-random-fp16, built by
 * `/usr/bin/python3 models/exporter/export.py --from-package models/terramind-test-random --fp16 --out ...`);
 * test/model-fp16.test.ts runs the same comparison with tolerances.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Modality } from '../../src/modalities.js';
import { readGeoTiffRaster } from '../../src/cli/read-input.js';
import {
  codesFor,
  decodeLogits,
  diffusionDecode,
  encode,
  PIXELS,
  standardize,
  tokenizeInput,
  TOKENS,
  type EncodedContext,
  type ModelContext,
} from '../../src/model/generate.js';
import { loadPackage } from '../../src/model/manifest.js';
import { Rng } from '../../src/model/rng.js';
import { sampleTokens } from '../../src/model/sampling.js';
import { ModelSessions } from '../../src/model/sessions.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLES = join(ROOT, 'test/fixtures/terramind-examples');
const CHIPS = ['38D_378R_2_3', '282D_485L_3_3'];
const B = CHIPS.length;
export const DECODE_STEPS = 10;

/** max and mean |a - b|; `physical` scales each band's difference by that band's std (standardized -> unit). */
export interface Difference {
  maxAbs: number;
  meanAbs: number;
  physical?: { maxAbs: number; meanAbs: number; unit: string };
}

export interface Fp16Figures {
  /** Fraction of tokenizer-encoder ids (LULC, NDVI images) that are the same. */
  tokenizerIdsEqual: Record<string, number>;
  context: Difference;
  /** Per output; `argmaxEqual` and `sampledEqual` (default sampling, same generator) are fractions of the 196 x B. */
  logits: Record<string, Difference & { argmaxEqual: number; sampledEqual: number }>;
  /** UNet x0 (raw) at t=999 from the same noise and codes, per DiVAE output. */
  unetStep: Record<string, Difference>;
  /** The whole DDIM decode (clamped x0 of the last step), same tokens and noise, per DiVAE output. */
  decode: Record<string, Difference>;
  seconds: number;
}

const UNITS: Partial<Record<Modality, string>> = { S2L2A: 'DN', S1GRD: 'dB', S1RTC: 'dB', DEM: 'm', NDVI: 'NDVI' };

function difference(a: Float32Array, b: Float32Array, std?: readonly number[], unit?: string): Difference {
  if (a.length !== b.length) throw new Error(`compare: ${a.length} vs ${b.length} values`);
  let max = 0;
  let sum = 0;
  let pmax = 0;
  let psum = 0;
  const planes = std?.length ?? 1;
  for (let i = 0; i < a.length; i += 1) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
    if (std) {
      const p = d * std[Math.floor(i / PIXELS) % planes]!;
      pmax = Math.max(pmax, p);
      psum += p;
    }
  }
  const out: Difference = { maxAbs: max, meanAbs: sum / a.length };
  if (std) out.physical = { maxAbs: pmax, meanAbs: psum / a.length, unit: unit ?? '' };
  return out;
}

const fractionEqual = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>) => {
  let same = 0;
  for (let i = 0; i < a.length; i += 1) if (a[i] === b[i]) same += 1;
  return same / a.length;
};

function argmax(logits: Float32Array, vocab: number): Int32Array {
  const out = new Int32Array(logits.length / vocab);
  for (let p = 0; p < out.length; p += 1) {
    let best = 0;
    for (let v = 1; v < vocab; v += 1) if (logits[p * vocab + v]! > logits[p * vocab + best]!) best = v;
    out[p] = best;
  }
  return out;
}

/** Runs both packages on the same inputs; both must have the same modalities (an fp16 copy of the fp32 one). */
export async function compareFp16(fp32Dir: string, fp16Dir: string): Promise<Fp16Figures> {
  const start = performance.now();
  const pkgs = [loadPackage(fp32Dir), loadPackage(fp16Dir)] as const;
  if (pkgs[0].manifest.precision !== 'fp32' || pkgs[1].manifest.precision !== 'fp16') throw new Error('compare: give an fp32 and an fp16 package');
  const sessions = pkgs.map((pkg) => new ModelSessions(pkg, { executionProviders: ['cpu'], intraOpThreads: 0, interOpThreads: 0 }));
  const ctxs = pkgs.map((pkg, k): ModelContext => ({ pkg, run: (part, feeds) => sessions[k]!.run(part, feeds), queryCache: new Map() }));
  try {
    const m = pkgs[0].manifest.modalities;
    const image = async (modality: Modality, standardized: boolean) => {
      const out = new Float32Array(B * m[modality]!.bands.length * PIXELS);
      for (const [b, chip] of CHIPS.entries()) {
        const r = await readGeoTiffRaster(join(EXAMPLES, modality, `${chip}.tif`));
        out.set(standardized ? standardize(r.bands, m[modality]!.mean, m[modality]!.std) : standardize(r.bands, [0], [1]), b * out.length / B);
      }
      return out;
    };
    const s2 = await image('S2L2A', true);
    const s1 = await image('S1RTC', true);
    const lulcImage = await image('LULC', false);
    const ndviImage = await image('NDVI', true);

    const tokenizerIdsEqual: Record<string, number> = {};
    const ids: Partial<Record<Modality, BigInt64Array>> = {};
    for (const [id, img] of [['LULC', lulcImage], ['NDVI', ndviImage]] as const) {
      const [a, b] = await Promise.all(ctxs.map((ctx) => tokenizeInput(ctx, id, img, B)));
      tokenizerIdsEqual[id] = fractionEqual(a!, b!);
      ids[id] = a!; // the fp32 ids feed both encoders, so the context compares the encoders alone
    }
    const inputs = { S2L2A: { pixels: s2 }, S1RTC: { pixels: s1 }, LULC: { ids: ids.LULC! }, NDVI: { ids: ids.NDVI! } };
    const contexts = (await Promise.all(ctxs.map((ctx) => encode(ctx, inputs, B)))) as [EncodedContext, EncodedContext];
    const context = difference(contexts[0].data, contexts[1].data);

    const logits: Fp16Figures['logits'] = {};
    const unetStep: Fp16Figures['unetStep'] = {};
    const decode: Fp16Figures['decode'] = {};
    const sampling = pkgs[0].manifest.defaults;
    const noiseRng = new Rng(16);
    for (const id of pkgs[0].outputs) {
      const out = m[id]!.output!;
      const [la, lb] = await Promise.all(ctxs.map((ctx, k) => decodeLogits(ctx, contexts[k]!, id)));
      const draw = (l: Float32Array) => sampleTokens(l, B, out.vocabSize, sampling, CHIPS.map((_, b) => new Rng(100 + b)));
      const tokens = draw(la!);
      logits[id] = {
        ...difference(la!, lb!),
        argmaxEqual: fractionEqual(argmax(la!, out.vocabSize), argmax(lb!, out.vocabSize)),
        sampledEqual: fractionEqual(tokens, draw(lb!)),
      };
      if (out.tokenizer.kind !== 'divae') continue;
      const unet = out.tokenizer.unet;
      const codes = codesFor(pkgs[0], id, tokens, B);
      const channels = m[id]!.bands.length;
      const noise = noiseRng.normalArray(B * channels * PIXELS);
      const [ua, ub] = await Promise.all(
        ctxs.map(async (ctx) => {
          const res = await ctx.run(unet, {
            x: { type: 'float32', data: noise, dims: [B, channels, 224, 224] },
            t: { type: 'int64', data: new BigInt64Array(B).fill(999n), dims: [B] },
            code: { type: 'float32', data: codes, dims: [B, out.tokenizer.fsqLevels.length, 14, 14] },
          });
          return res.x0!.data as Float32Array;
        }),
      );
      unetStep[id] = difference(ua!, ub!, m[id]!.std, UNITS[id]);
      const [da, db] = await Promise.all(ctxs.map((ctx) => diffusionDecode(ctx, id, codes, noise, B, DECODE_STEPS)));
      decode[id] = difference(da!, db!, m[id]!.std, UNITS[id]);
    }
    return { tokenizerIdsEqual, context, logits, unetStep, decode, seconds: (performance.now() - start) / 1000 };
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}

const g = (v: number) => (v === 0 ? '0' : v < 1e-3 || v >= 1e4 ? v.toExponential(1) : v.toPrecision(2));
const row = (stage: string, d: Difference, extra = '') =>
  `| ${stage} | ${g(d.maxAbs)} | ${g(d.meanAbs)} | ${d.physical ? `${g(d.physical.maxAbs)} / ${g(d.physical.meanAbs)} ${d.physical.unit}` : '-'} | ${extra} |`;
const pct = (f: number) => `${(f * 100).toFixed(1)}%`;

/** The figures as the markdown table of docs/exporting.md. */
export function formatFigures(f: Fp16Figures): string {
  const lines = [
    '| stage | max abs | mean abs | physical max / mean | agreement |',
    '|---|---|---|---|---|',
    ...Object.entries(f.tokenizerIdsEqual).map(([id, eq]) => `| tokenizer encoder ${id} (ids) | - | - | - | ${pct(eq)} ids equal |`),
    row('encoder context', f.context),
    ...Object.entries(f.logits).map(([id, d]) => row(`logits ${id}`, d, `argmax ${pct(d.argmaxEqual)}, sampled ${pct(d.sampledEqual)} equal`)),
    ...Object.entries(f.unetStep).map(([id, d]) => row(`UNet step ${id} (t=999, raw x0)`, d)),
    ...Object.entries(f.decode).map(([id, d]) => row(`${DECODE_STEPS}-step decode ${id}`, d)),
  ];
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const fp32 = process.argv[2] ?? join(ROOT, 'models/terramind-test-random');
  const fp16 = process.argv[3] ?? join(ROOT, 'models/build/terramind-test-random-fp16');
  compareFp16(fp32, fp16).then(
    (figures) => {
      console.log(`fp16 (${fp16}) vs fp32 (${fp32}), ${B} example chips, standardized units unless "physical":\n`);
      console.log(formatFigures(figures));
      console.log(`\n${figures.seconds.toFixed(1)} s`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
