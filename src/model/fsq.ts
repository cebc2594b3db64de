/**
 * Finite scalar quantization (terramind-reference.md §3.2): a token id is a mixed-radix number over the FSQ
 * levels, dimension 0 least significant; its code is number_i / (L_i - 1) in [0, 1].
 */

/** basis = cumprod([1, L0, L1, ...]) without the last product. */
export function fsqBasis(levels: readonly number[]): number[] {
  const basis: number[] = [];
  let product = 1;
  for (const level of levels) {
    basis.push(product);
    product *= level;
  }
  return basis;
}

export function fsqVocabSize(levels: readonly number[]): number {
  return levels.reduce((a, b) => a * b, 1);
}

/** The code vector of one index. */
export function indexToCode(index: number, levels: readonly number[]): number[] {
  const basis = fsqBasis(levels);
  return levels.map((level, i) => (Math.floor(index / basis[i]!) % level) / (level - 1));
}

/** The index of per-dimension level numbers (integers in [0, L_i - 1]). */
export function numbersToIndex(numbers: readonly number[], levels: readonly number[]): number {
  const basis = fsqBasis(levels);
  return numbers.reduce((sum, n, i) => sum + n * basis[i]!, 0);
}

/**
 * Token ids [B, H*W] (raster order) -> FSQ codes [B, F, H, W] as the UNet / LULC decoder take them.
 * Ids outside [0, vocab) are a programming error upstream (sampling never produces them), so this throws.
 */
export function tokensToCodes(
  ids: ArrayLike<number | bigint>,
  levels: readonly number[],
  batch: number,
  tokensPerChip = 196,
): Float32Array {
  const f = levels.length;
  const vocab = fsqVocabSize(levels);
  const basis = fsqBasis(levels);
  if (ids.length !== batch * tokensPerChip) {
    throw new RangeError(`expected ${batch * tokensPerChip} token ids, got ${ids.length}`);
  }
  const codes = new Float32Array(batch * f * tokensPerChip);
  for (let b = 0; b < batch; b += 1) {
    for (let p = 0; p < tokensPerChip; p += 1) {
      const id = Number(ids[b * tokensPerChip + p]!);
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`token id ${id} outside [0, ${vocab})`);
      for (let i = 0; i < f; i += 1) {
        const level = levels[i]!;
        codes[(b * f + i) * tokensPerChip + p] = (Math.floor(id / basis[i]!) % level) / (level - 1);
      }
    }
  }
  return codes;
}
