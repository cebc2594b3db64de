import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalSources, canonicalSpec } from '../generation/params.js';
import type { GenerationSpec } from '../generation/types.js';
import type { JobRepository } from '../jobs/repository.js';
import { MODALITY_IDS, type Modality } from '../modalities.js';

/**
 * Collection output (OGC API - Processes 2.0 draft / Part 3): `POST .../execution?response=collection` defines a
 * virtual collection per output instead of running a job; its tiles are generated on access by the chip engine
 * like any generated collection. The id is a hash of the canonical request (output + generation spec), so the
 * same request from any instance gives the same collection, and the definition is stored in the job store so
 * any instance sharing it can resolve the id.
 */
export interface VirtualCollection {
  id: string;
  output: Modality;
  spec: GenerationSpec;
}

const Stored = z.object({
  id: z.string(),
  output: z.enum(MODALITY_IDS),
  spec: z.object({
    sources: z.array(z.object({ modality: z.enum(MODALITY_IDS), href: z.url({ protocol: /^https?$/ }) })).min(1),
    params: z.object({
      seed: z.number(),
      timesteps: z.number(),
      temperature: z.number(),
      top_p: z.number(),
      top_k: z.number(),
      thinking: z.array(z.enum(MODALITY_IDS)),
    }),
  }),
});

export function virtualCollectionId(output: Modality, spec: GenerationSpec): string {
  const hash = createHash('sha256').update(`${output}|${canonicalSpec(spec)}`).digest('hex');
  return `tm-${output.toLowerCase()}-${hash.slice(0, 24)}`;
}

/** The execute request that defines a collection, canonical: POSTing it with ?response=collection gives the same id. */
export function definingRequest(collection: VirtualCollection): Record<string, unknown> {
  const { params } = collection.spec;
  return {
    inputs: {
      sources: canonicalSources(collection.spec.sources).map((s) => ({ modality: s.modality, href: s.href })),
      generate: [collection.output],
      ...params,
      thinking: [...params.thinking],
    },
    outputs: { [collection.output]: {} },
  };
}

export async function saveVirtualCollection(repository: JobRepository, output: Modality, spec: GenerationSpec): Promise<VirtualCollection> {
  const sources = canonicalSources(spec.sources).map((s) => ({ ...s, trusted: false }));
  const collection: VirtualCollection = { id: virtualCollectionId(output, { ...spec, sources }), output, spec: { sources, params: spec.params } };
  await repository.putCollection(collection.id, { id: collection.id, output, spec: { sources: sources.map(({ modality, href }) => ({ modality, href })), params: spec.params } });
  return collection;
}

/**
 * findVirtualCollection(id) over a job store: the definition, or undefined for any id that is not one. Stored
 * sources are user input: they are never trusted, whatever the store holds.
 */
export function virtualCollectionFinder(repository: JobRepository): (id: string) => Promise<VirtualCollection | undefined> {
  return async function findVirtualCollection(id: string) {
    if (!/^tm-[a-z0-9]+-[0-9a-f]{24}$/.test(id)) return undefined;
    const parsed = Stored.safeParse(await repository.getCollection(id));
    if (!parsed.success || parsed.data.id !== id) return undefined;
    const { output, spec } = parsed.data;
    return { id, output, spec: { sources: spec.sources.map((s) => ({ ...s, trusted: false })), params: spec.params } };
  };
}
