import type { Rng } from './rng.js';

/**
 * Token sampling as the reference sampler does it (terramind-reference.md §4.2 step 6): top-k, then top-p on the
 * RAW logits (sorted descending, cumulative softmax, remove where cum > p shifted right by one so the first token
 * crossing p is kept), then softmax(filtered / temperature) and one multinomial draw per position.
 * The nucleus is found by a selection over the probabilities instead of a full sort (15360 logits x 196 positions
 * per chip); ties at the cut-off value are all kept (the reference's order among equal logits is arbitrary).
 */
export interface SamplingOptions {
  /** > 0; 0 means greedy (argmax). */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 keeps every token. */
  topP: number;
  /** Keep the k largest logits; 0 = off. */
  topK: number;
}

/**
 * The smallest weight kept by top-p: with weights w (unnormalized probabilities, `total` their sum), sorted
 * descending, the first index whose cumulative mass exceeds p*total is the last one kept. Expected O(V).
 */
export function nucleusThreshold(weights: Float64Array, count: number, total: number, topP: number, scratch?: Float64Array): number {
  const target = topP * total;
  const cand = scratch && scratch.length >= count * 2 ? scratch : new Float64Array(count * 2);
  let n = 0;
  for (let i = 0; i < count; i += 1) if (weights[i]! > 0) cand[n++] = weights[i]!;
  let lo = 0; // candidates live in cand[lo, lo + n)
  let above = 0; // mass of tokens known to be larger than every candidate
  let other = count; // the half of the buffer that the next partition writes into
  while (n > 0) {
    const pivot = median3(cand[lo]!, cand[lo + (n >> 1)]!, cand[lo + n - 1]!);
    let hi = 0;
    let low = 0;
    let massHigh = 0;
    let massEqual = 0;
    // Partition into the other half: larger values from its front, smaller ones from its back.
    const base = other;
    const end = other + count;
    for (let i = lo; i < lo + n; i += 1) {
      const v = cand[i]!;
      if (v > pivot) {
        cand[base + hi++] = v;
        massHigh += v;
      } else if (v < pivot) {
        cand[end - 1 - low++] = v;
      } else {
        massEqual += v;
      }
    }
    if (above + massHigh > target) {
      if (hi === 0) return pivot;
      lo = base;
      n = hi;
    } else if (above + massHigh + massEqual > target || low === 0) {
      return pivot;
    } else {
      above += massHigh + massEqual;
      lo = end - low;
      n = low;
    }
    other = base === 0 ? count : 0;
  }
  return 0;
}

function median3(a: number, b: number, c: number): number {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: every variant returns one of a, b, c, all in the candidate range, and any of them is a valid pivot (the same threshold is found, only the number of rounds changes)
  return a > b ? (b > c ? b : a > c ? c : a) : a > c ? a : b > c ? c : b;
}

function kthLargest(values: ArrayLike<number>, k: number): number {
  return Float64Array.from(values).sort()[values.length - k]!;
}

/** Keeps the logits of one position that survive top-k and top-p; the rest become -Infinity. Works on a copy. */
export function filterLogits(logits: ArrayLike<number>, options: Pick<SamplingOptions, 'topK' | 'topP'>): Float64Array {
  const v = logits.length;
  const out = Float64Array.from(logits);
  if (options.topK > 0 && options.topK < v) {
    const kth = kthLargest(out, options.topK);
    for (let i = 0; i < v; i += 1) if (out[i]! < kth) out[i] = -Infinity;
  }
  if (options.topP > 0 && options.topP < 1) {
    let max = -Infinity;
    for (let i = 0; i < v; i += 1) if (out[i]! > max) max = out[i]!;
    const weights = new Float64Array(v);
    let total = 0;
    for (let i = 0; i < v; i += 1) total += weights[i] = Math.exp(out[i]! - max);
    const threshold = nucleusThreshold(weights, v, total, options.topP);
    for (let i = 0; i < v; i += 1) if (weights[i]! < threshold) out[i] = -Infinity;
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
  return pick(weights, total, rng, argmax);
}

/** Index i with probability weights[i] / total (scan in index order). */
function pick(weights: Float64Array, total: number, rng: Rng, fallback: number): number {
  const target = rng.uniform() * total;
  let cum = 0;
  let last = fallback;
  for (let i = 0; i < weights.length; i += 1) {
    const w = weights[i]!;
    if (w === 0) continue;
    cum += w;
    last = i;
    if (target < cum) return i;
  }
  return last; // rounding left target == total: the last non-zero token
}

/**
 * Samples one token per position from logits [B, N, V]. `rngs` has one generator per batch row (each chip keeps
 * its own stream, so batching chips together does not change any chip's tokens). Same result as
 * drawToken(filterLogits(row)) per position, with buffers reused across positions.
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
  const weights = new Float64Array(vocab);
  const scratch = new Float64Array(vocab * 2);
  for (let p = 0; p < positions; p += 1) {
    const row = logits.subarray(p * vocab, (p + 1) * vocab);
    const rng = rngs[Math.floor(p / perChip)]!;
    if (options.topK > 0 && options.topK < vocab) {
      out[p] = drawToken(filterLogits(row, options), options.temperature, rng);
      continue;
    }
    let argmax = 0;
    for (let i = 1; i < vocab; i += 1) if (row[i]! > row[argmax]!) argmax = i;
    if (options.temperature <= 0) {
      out[p] = argmax;
      continue;
    }
    const max = row[argmax]!;
    let total = 0;
    for (let i = 0; i < vocab; i += 1) total += weights[i] = Math.exp(row[i]! - max);
    const threshold = options.topP > 0 && options.topP < 1 ? nucleusThreshold(weights, vocab, total, options.topP, scratch) : 0;
    let kept = 0;
    for (let i = 0; i < vocab; i += 1) {
      if (weights[i]! < threshold) weights[i] = 0;
      else {
        if (options.temperature !== 1) weights[i] = Math.exp((row[i]! - max) / options.temperature);
        kept += weights[i]!;
      }
    }
    out[p] = pick(weights, kept, rng, argmax);
  }
  return out;
}
