import { readFileSync } from 'node:fs';
import type { Modality } from '../modalities.js';
import type { Feeds, RunPart } from './batcher.js';
import { tokensToCodes } from './fsq.js';
import type { ModalityManifest, ModelPackage } from './manifest.js';
import { ddimSteps, ddimUpdate, predictionOf } from './schedule.js';

/**
 * The generation stages on plain typed arrays, batch-first (B chips at once), in the order of
 * terramind-reference.md §4: standardize -> embed each input -> encoder once -> per output: decoder with that
 * output's queries -> head -> sample -> FSQ codes -> DDIM loop or LULC decoder -> de-standardize.
 * Each stage is exported on its own so tests can inject token ids and noise; runtime.ts validates requests and
 * chains them. Nothing here draws random numbers: callers pass tokens' generators and noise in.
 */
export const IMAGE = 224;
export const PIXELS = IMAGE * IMAGE;
export const TOKENS = 196;

export interface ModelContext {
  pkg: ModelPackage;
  /** Runs one ONNX file of the package (through the batcher in the runtime, straight to the session in tests). */
  run: RunPart;
  /** Query tables already read, per output modality. */
  queryCache?: Map<Modality, Float32Array>;
}

/** An encoder input: standardized pixels [B,C,224,224] or token ids [B,196]. */
export type EncoderInput = { pixels: Float32Array } | { ids: BigInt64Array | Int32Array };

export interface EncodedContext {
  /** context [B,N,D] */
  data: Float32Array;
  batch: number;
  tokens: number;
  dim: number;
}

function entry(pkg: ModelPackage, modality: Modality): ModalityManifest {
  const m = pkg.manifest.modalities[modality];
  if (!m) throw new RangeError(`modality ${modality} is not in this package`);
  return m;
}

const f32 = (data: Float32Array, dims: number[]) => ({ type: 'float32' as const, data, dims });
const i64 = (data: BigInt64Array, dims: number[]) => ({ type: 'int64' as const, data, dims });

function output(feeds: Feeds, name: string, part: string): Float32Array | BigInt64Array {
  const t = feeds[name];
  if (!t) throw new Error(`${part} returned no output named ${name} (package contract: docs/model-package.md)`);
  return t.data;
}

export function toInt64(ids: BigInt64Array | Int32Array): BigInt64Array {
  if (ids instanceof BigInt64Array) return ids;
  const out = new BigInt64Array(ids.length);
  for (let i = 0; i < ids.length; i += 1) out[i] = BigInt(ids[i]!);
  return out;
}

/** (x - (mean + offset)) / std per band -> one standardized [C,224,224] block. */
export function standardize(bands: readonly ArrayLike<number>[], mean: readonly number[], std: readonly number[], offset = 0): Float32Array {
  const out = new Float32Array(bands.length * PIXELS);
  bands.forEach((band, c) => {
    const m = mean[c]! + offset;
    const s = std[c]!;
    for (let i = 0; i < PIXELS; i += 1) out[c * PIXELS + i] = (band[i]! - m) / s;
  });
  return out;
}

/** x * std + mean + offset for one chip [C,224,224] -> one array per band. */
export function destandardize(data: Float32Array, mean: readonly number[], std: readonly number[], offset = 0): Float32Array[] {
  return mean.map((m, c) => {
    const band = new Float32Array(PIXELS);
    const s = std[c]!;
    const shift = m + offset;
    for (let i = 0; i < PIXELS; i += 1) band[i] = data[c * PIXELS + i]! * s + shift;
    return band;
  });
}

/** Token-modality image [B,C,224,224] (standardized) -> FSQ ids [B,196] through its tokenizer encoder. */
export async function tokenizeInput(ctx: ModelContext, modality: Modality, image: Float32Array, batch: number): Promise<BigInt64Array> {
  const m = entry(ctx.pkg, modality);
  const file = m.input?.tokenizerEncoder;
  if (!file) throw new RangeError(`${modality} has no tokenizer encoder in this package`);
  const out = await ctx.run(file, { image: f32(image, [batch, m.bands.length, IMAGE, IMAGE]) });
  return output(out, 'ids', file) as BigInt64Array;
}

/** Embeds every input and runs the encoder once over their concatenation (inputs in manifest order). */
export async function encode(ctx: ModelContext, inputs: Partial<Record<Modality, EncoderInput>>, batch: number): Promise<EncodedContext> {
  const dim = ctx.pkg.manifest.architecture.dim;
  const order = (Object.keys(ctx.pkg.manifest.modalities) as Modality[]).filter((id) => inputs[id] !== undefined);
  if (order.length === 0) throw new RangeError('encode needs at least one input');
  const embedded = await Promise.all(
    order.map(async (id) => {
      const m = entry(ctx.pkg, id);
      const file = m.input?.embed;
      if (!file) throw new RangeError(`${id} cannot be an input of this package`);
      const input = inputs[id]!;
      const feeds: Feeds =
        'pixels' in input
          ? { pixels: f32(input.pixels, [batch, m.bands.length, IMAGE, IMAGE]) }
          : { ids: i64(toInt64(input.ids), [batch, TOKENS]) };
      const out = await ctx.run(file, feeds);
      return { tokens: output(out, 'tokens', file) as Float32Array, emb: output(out, 'emb', file) as Float32Array };
    }),
  );
  const n = TOKENS * order.length;
  const tokens = new Float32Array(batch * n * dim);
  const emb = new Float32Array(batch * n * dim);
  const block = TOKENS * dim;
  embedded.forEach((e, k) => {
    for (let b = 0; b < batch; b += 1) {
      tokens.set(e.tokens.subarray(b * block, (b + 1) * block), (b * n + k * TOKENS) * dim);
      emb.set(e.emb.subarray(b * block, (b + 1) * block), (b * n + k * TOKENS) * dim);
    }
  });
  const file = ctx.pkg.manifest.encoder;
  const out = await ctx.run(file, { tokens: f32(tokens, [batch, n, dim]), emb: f32(emb, [batch, n, dim]) });
  return { data: output(out, 'context', file) as Float32Array, batch, tokens: n, dim };
}

/** The 196 queries of an output modality, [196, D] from its raw little-endian float32 file. */
export function loadQueries(ctx: ModelContext, modality: Modality): Float32Array {
  const cached = ctx.queryCache?.get(modality);
  if (cached) return cached;
  const m = entry(ctx.pkg, modality);
  if (!m.output) throw new RangeError(`${modality} cannot be generated by this package`);
  const bytes = readFileSync(ctx.pkg.path(m.output.queries));
  const dim = ctx.pkg.manifest.architecture.dim;
  if (bytes.byteLength !== TOKENS * dim * 4) {
    throw new Error(`${m.output.queries} has ${bytes.byteLength} bytes, expected 196 x ${dim} float32`);
  }
  const queries = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  ctx.queryCache?.set(modality, queries);
  return queries;
}

/** Decoder with the output's queries, then its head: logits [B,196,V]. */
export async function decodeLogits(ctx: ModelContext, context: EncodedContext, modality: Modality): Promise<Float32Array> {
  const m = entry(ctx.pkg, modality);
  if (!m.output) throw new RangeError(`${modality} cannot be generated by this package`);
  const { batch, dim } = context;
  const table = loadQueries(ctx, modality);
  const queries = new Float32Array(batch * TOKENS * dim);
  for (let b = 0; b < batch; b += 1) queries.set(table, b * TOKENS * dim);
  const decoder = ctx.pkg.manifest.decoder;
  const hidden = await ctx.run(decoder, {
    context: f32(context.data, [batch, context.tokens, dim]),
    queries: f32(queries, [batch, TOKENS, dim]),
  });
  const head = m.output.head;
  const out = await ctx.run(head, { hidden: f32(output(hidden, 'hidden', decoder) as Float32Array, [batch, TOKENS, dim]) });
  return output(out, 'logits', head) as Float32Array;
}

/** Token ids [B,196] -> FSQ codes [B,F,14,14] with the output tokenizer's levels. */
export function codesFor(pkg: ModelPackage, modality: Modality, ids: ArrayLike<number | bigint>, batch: number): Float32Array {
  const m = entry(pkg, modality);
  if (!m.output) throw new RangeError(`${modality} cannot be generated by this package`);
  return tokensToCodes(ids, m.output.tokenizer.fsqLevels, batch);
}

/**
 * DDIM over the modality's UNet: x starts as `noise` [B,C,224,224]; each step predicts x0, derives the noise
 * estimate from that raw prediction, clamps x0 to [-clip, clip] and moves to the previous timestep with the clamped
 * x0 (schedule.ts `ddimUpdate`). Returns the last clamped x0: standardized pixels [B,C,224,224].
 */
export async function diffusionDecode(
  ctx: ModelContext,
  modality: Modality,
  codes: Float32Array,
  noise: Float32Array,
  batch: number,
  timesteps: number,
  onStep?: (index: number, total: number) => void,
): Promise<Float32Array> {
  const m = entry(ctx.pkg, modality);
  const tokenizer = m.output?.tokenizer;
  if (tokenizer?.kind !== 'divae') throw new RangeError(`${modality} has no diffusion decoder in this package`);
  const channels = m.bands.length;
  const f = tokenizer.fsqLevels.length;
  if (noise.length !== batch * channels * PIXELS) throw new RangeError(`noise must be [${batch},${channels},224,224]`);
  const diffusion = ctx.pkg.manifest.diffusion;
  const steps = ddimSteps(diffusion, timesteps);
  let x = noise;
  let result = noise;
  for (const [index, step] of steps.entries()) {
    const out = await ctx.run(tokenizer.unet, {
      x: f32(x, [batch, channels, IMAGE, IMAGE]),
      t: i64(new BigInt64Array(batch).fill(BigInt(step.t)), [batch]),
      code: f32(codes, [batch, f, 14, 14]),
    });
    const x0 = predictionOf(output(out, 'x0', tokenizer.unet) as Float32Array, diffusion.clipSample);
    // The result is the last clamped x0 (what the update gives when prev alpha is 1), so skip that update.
    if (index < steps.length - 1) x = ddimUpdate(x, x0, step);
    result = x0.clamped;
    onStep?.(index + 1, steps.length);
  }
  return result;
}

/** LULC VQ-VAE decoder: logits [B,K,224,224] and the argmax class index per pixel [B,224,224]. */
export async function lulcDecode(
  ctx: ModelContext,
  modality: Modality,
  codes: Float32Array,
  batch: number,
): Promise<{ logits: Float32Array; classes: Float32Array; numClasses: number }> {
  const m = entry(ctx.pkg, modality);
  const tokenizer = m.output?.tokenizer;
  if (tokenizer?.kind !== 'vqvae') throw new RangeError(`${modality} has no class-map decoder in this package`);
  const out = await ctx.run(tokenizer.decoder, { code: f32(codes, [batch, tokenizer.fsqLevels.length, 14, 14]) });
  const logits = output(out, 'logits', tokenizer.decoder) as Float32Array;
  const k = logits.length / (batch * PIXELS);
  const classes = new Float32Array(batch * PIXELS);
  for (let b = 0; b < batch; b += 1) {
    const base = b * k * PIXELS;
    for (let i = 0; i < PIXELS; i += 1) {
      let best = 0;
      let bestValue = logits[base + i]!;
      for (let c = 1; c < k; c += 1) {
        const v = logits[base + c * PIXELS + i]!;
        if (v > bestValue) {
          bestValue = v;
          best = c;
        }
      }
      classes[b * PIXELS + i] = best;
    }
  }
  return { logits, classes, numClasses: k };
}
