import type { Rng } from './rng.js';

/**
 * Token sampling as the reference sampler does it (terramind-reference.md §4.2 step 6): top-k, then top-p on the
 * RAW logits (sorted descending, cumulative softmax, remove where cum > p shifted right by one so the first token
 * crossing p is kept), then softmax(filtered / temperature) and one multinomial draw per position.
 */
export interface SamplingOptions {
  /** > 0; 0 means greedy (argmax). */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 (or 0) keeps every token. */
  topP: number;
  /** Keep the k largest logits; 0 = off. */
  topK: number;
}

/**
 * Keeps the logits of one position that survive top-k and top-p; the rest become -Infinity. Works on a copy.
 * Ties at the cut-off value are all kept (the reference's sort order among equal logits is arbitrary).
 */
export function filterLogits(logits: ArrayLike<number>, options: Pick<SamplingOptions, 'topK' | 'topP'>): Float64Array {
  const v = logits.length;
  const out = Float64Array.from(logits as ArrayLike<number>);
  let sorted: Float64Array | undefined;
  const sortedDesc = () => (sorted ??= Float64Array.from(out).sort().reverse());
  if (options.topK > 0 && options.topK < v) {
    const kth = sortedDesc()[options.topK - 1]!;
    for (let i = 0; i < v; i += 1) if (out[i]! < kth) out[i] = -Infinity;
    sorted = undefined;
  }
  if (options.topP > 0 && options.topP < 1) {
    const desc = sortedDesc();
    const max = desc[0]!;
    let total = 0;
    for (let i = 0; i < v; i += 1) total += Math.exp(desc[i]! - max);
    // Keep sorted positions 0..k where k is the first index whose cumulative probability exceeds p.
    let cum = 0;
    let threshold = desc[v - 1]!;
    for (let i = 0; i < v; i += 1) {
      cum += Math.exp(desc[i]! - max) / total;
      if (cum > options.topP) {
        threshold = desc[i]!;
        break;
      }
    }
    for (let i = 0; i < v; i += 1) if (out[i]! < threshold) out[i] = -Infinity;
  }
  return out;
}

/** softmax(filtered / temperature) then one draw with u from the generator; temperature 0 = argmax. */
export function drawToken(filtered: Float64Array, temperature: number, rng: Rng): number {
  let argmax = 0;
  for (let i = 1; i < filtered.length; i += 1) if (filtered[i]! > filtered[argmax]!) argmax = i;
  if (temperature <= 0) return argmax;
  const max = filtered[argmax]!;
  const weights = new Float64Array(filtered.length);
  let total = 0;
  for (let i = 0; i < filtered.length; i += 1) {
    const w = filtered[i] === -Infinity ? 0 : Math.exp((filtered[i]! - max) / temperature);
    weights[i] = w;
    total += w;
  }
  const target = rng.uniform() * total;
  let cum = 0;
  let last = argmax;
  for (let i = 0; i < weights.length; i += 1) {
    if (weights[i] === 0) continue;
    cum += weights[i]!;
    last = i;
    if (target < cum) return i;
  }
  return last; // rounding left target == total: the last non-zero token
}

/**
 * Samples one token per position from logits [B, N, V]. `rngs` has one generator per batch row (each chip keeps
 * its own stream, so batching chips together does not change any chip's tokens).
 */
export function sampleTokens(
  logits: Float32Array,
  batch: number,
  vocab: number,
  options: SamplingOptions,
  rngs: readonly Rng[],
): Int32Array {
  const positions = logits.length / vocab;
  if (!Number.isInteger(positions) || positions % batch !== 0) {
    throw new RangeError(`logits length ${logits.length} is not B=${batch} x N x V=${vocab}`);
  }
  if (rngs.length !== batch) throw new RangeError(`need ${batch} generators, got ${rngs.length}`);
  const perChip = positions / batch;
  const out = new Int32Array(positions);
  for (let p = 0; p < positions; p += 1) {
    const row = logits.subarray(p * vocab, (p + 1) * vocab);
    out[p] = drawToken(filterLogits(row, options), options.temperature, rngs[Math.floor(p / perChip)]!);
  }
  return out;
}
