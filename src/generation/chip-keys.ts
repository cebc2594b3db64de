import { cacheKey } from '../cache/keys.js';
import type { Modality } from '../modalities.js';
import { chipAddress } from './chip-generator.js';
import type { ChipIndex } from './lattice.js';
import type { GenerationPlan } from './types.js';

/**
 * The cache key of one generated chip. It holds everything that changes the chip's values: the model (name,
 * version and the digest of its files), the sources (modality and href, canonical order), the lattice address
 * (CRS, phase, i, j), the output and every generation parameter. The service, render and generation versions
 * come in through cacheKey's version segment, so chips made by an older loop are never read again.
 */
export function chipKey(
  model: { name: string; version: string; digest: string },
  plan: GenerationPlan,
  chip: ChipIndex,
  output: Modality,
): string {
  const { params, sources } = plan.spec;
  return cacheKey(
    'chip',
    {
      model: `${model.name}@${model.version}`,
      package: model.digest,
      sources: JSON.stringify(sources.map((s) => [s.modality, s.href])),
      chip: chipAddress(plan.lattice, chip),
      output,
      seed: params.seed,
      timesteps: params.timesteps,
      temperature: params.temperature,
      top_p: params.top_p,
      top_k: params.top_k,
      thinking: params.thinking.join(','),
    },
    'tmchip',
  );
}
