import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { CACHE_VERSION } from '../src/cache/keys.js';
import { chipKey } from '../src/generation/chip-keys.js';
import type { ChipIndex } from '../src/generation/lattice.js';
import type { GenerationParams, GenerationPlan, GenerationSource } from '../src/generation/types.js';
import type { Modality } from '../src/modalities.js';

/**
 * The key a generated chip is cached under: two chips share a key only when their values are the same, so every
 * input that changes a chip's values must change its key, and what does not (whether a source came from the
 * operator or a user, the footprint a plan was made for) must not, or the same chip is generated twice.
 * cacheKey memoizes keys per process; each test's model digest is new, so no key was computed before it.
 */
let digest = '';
beforeEach(() => {
  digest = `sha256-${randomUUID()}`;
});

const S2: GenerationSource = { modality: 'S2L2A', href: 'https://earth-search.example/items/S2B_34SGA_20230712.json', trusted: false };
const S1: GenerationSource = { modality: 'S1RTC', href: 'https://planetary.example/items/S1A_IW_20230711.json', trusted: false };
const PARAMS: GenerationParams = { seed: 7, timesteps: 10, temperature: 1, top_p: 0.8, top_k: 0, thinking: [] };

function plan(overrides: { sources?: GenerationSource[]; params?: Partial<GenerationParams>; crs?: string; phase?: [number, number]; bounds?: GenerationPlan['bounds'] } = {}): GenerationPlan {
  return {
    spec: { sources: overrides.sources ?? [S2], params: { ...PARAMS, ...overrides.params } },
    lattice: { crs: overrides.crs ?? 'EPSG:32634', resolution: 10, phase: overrides.phase ?? [0, 5] },
    bounds: overrides.bounds ?? [22.5, 37.9, 22.7, 38.1],
    nativeBounds: [700_000, 4_200_000, 720_000, 4_220_000],
  };
}

const CHIP: ChipIndex = { i: 3, j: -2 };

function key(options: { model?: { name?: string; version?: string; digest?: string }; plan?: GenerationPlan; chip?: ChipIndex; output?: Modality } = {}) {
  const model = { name: 'terramind-v1-base', version: '1.0.0', digest, ...options.model };
  return chipKey(model, options.plan ?? plan(), options.chip ?? CHIP, options.output ?? 'DEM');
}

describe('chipKey', () => {
  it('is a versioned chip key under the model segment, the same for the same chip', () => {
    const base = key();
    expect(base).toMatch(new RegExp(`^chip/${CACHE_VERSION}/m-terramind-v1-base@1\\.0\\.0/([0-9a-f]{2})/\\1[0-9a-f]{62}\\.tmchip$`));
    expect(key()).toBe(base);
  });

  it('changes with every input that changes the chip: model, package, sources, lattice address, output, each parameter', () => {
    const base = key();
    const variants: Record<string, string> = {
      'model name': key({ model: { name: 'terramind-v1-large' } }),
      'model version': key({ model: { version: '1.0.1' } }),
      'package digest': key({ model: { digest: `${digest}-other` } }),
      'source href': key({ plan: plan({ sources: [{ ...S2, href: `${S2.href}?v=2` }] }) }),
      'source modality': key({ plan: plan({ sources: [{ ...S2, modality: 'S2L1C' }] }) }),
      'a second source': key({ plan: plan({ sources: [S2, S1] }) }),
      'sources in another order': key({ plan: plan({ sources: [S1, S2] }) }),
      'chip i': key({ chip: { i: 4, j: -2 } }),
      'chip j': key({ chip: { i: 3, j: -1 } }),
      'i and j swapped': key({ chip: { i: -2, j: 3 } }),
      'lattice CRS': key({ plan: plan({ crs: 'EPSG:32635' }) }),
      'lattice phase x': key({ plan: plan({ phase: [5, 5] }) }),
      'lattice phase y': key({ plan: plan({ phase: [0, 0] }) }),
      'lattice phase swapped': key({ plan: plan({ phase: [5, 0] }) }),
      output: key({ output: 'LULC' }),
      seed: key({ plan: plan({ params: { seed: 8 } }) }),
      timesteps: key({ plan: plan({ params: { timesteps: 50 } }) }),
      temperature: key({ plan: plan({ params: { temperature: 0.7 } }) }),
      top_p: key({ plan: plan({ params: { top_p: 0.9 } }) }),
      top_k: key({ plan: plan({ params: { top_k: 40 } }) }),
      'thinking LULC': key({ plan: plan({ params: { thinking: ['LULC'] } }) }),
      'thinking LULC, NDVI': key({ plan: plan({ params: { thinking: ['LULC', 'NDVI'] } }) }),
    };
    for (const [change, changed] of Object.entries(variants)) expect(changed, change).not.toBe(base);
    expect(new Set(Object.values(variants)).size).toBe(Object.keys(variants).length);
  });

  it('does not change with what leaves the chip as it is: who named a source, the footprint the plan was made for', () => {
    const base = key();
    expect(key({ plan: plan({ sources: [{ ...S2, trusted: true }] }) })).toBe(base);
    expect(key({ plan: plan({ bounds: [22.6, 38.0, 22.65, 38.05] }) })).toBe(base);
  });
});
