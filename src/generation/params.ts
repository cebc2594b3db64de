import { z } from 'zod';
import { badRequest } from '../errors.js';
import { MODALITIES, MODALITY_IDS, parseModality, type Modality } from '../modalities.js';
import type { ModelPackage } from '../model/index.js';
import type { GenerationParams, GenerationSource, GenerationSpec } from './types.js';

/**
 * Generation parameters and sources, validated by one zod schema per model package, whichever form they
 * arrive in: an ad hoc collection's query, a COLLECTIONS_FILE entry, or an OGC API - Processes execute request.
 * The same schema documents them (JSON Schema in process descriptions, OpenAPI parameters).
 */
export const GENERATION_PARAM_NAMES = ['seed', 'timesteps', 'temperature', 'top_p', 'top_k', 'thinking'] as const;

/** Token modalities the package can both generate and take back as input: what `thinking` may name. */
export function thinkingModalities(pkg: ModelPackage): Modality[] {
  return pkg.outputs.filter((id) => MODALITIES[id].encoding === 'token' && pkg.inputs.includes(id));
}

/** One schema per package: building a zod schema costs more than a cached tile (every generated-tile request parses). */
const schemas = new WeakMap<ModelPackage, ReturnType<typeof buildParamsSchema>>();

export function generationParamsSchema(pkg: ModelPackage) {
  let schema = schemas.get(pkg);
  if (!schema) {
    schema = buildParamsSchema(pkg);
    schemas.set(pkg, schema);
  }
  return schema;
}

function buildParamsSchema(pkg: ModelPackage) {
  const d = pkg.manifest.defaults;
  const thinkable = thinkingModalities(pkg);
  const thinking =
    thinkable.length > 0
      ? z.array(z.enum(thinkable as [Modality, ...Modality[]]))
      : z.array(z.string()).max(0, 'this model cannot think in any modality');
  return z
    .object({
      seed: z.number().int().min(0).max(2 ** 32 - 1).default(0).describe('Random seed; the same seed gives the same output'),
      timesteps: z
        .number()
        .int()
        .min(1)
        .max(pkg.manifest.diffusion.numTrainTimesteps)
        .default(d.timesteps)
        .describe('Diffusion (DDIM) steps of the pixel decoders'),
      temperature: z.number().min(0).max(100).default(d.temperature).describe('Sampling temperature (0 = most likely token)'),
      top_p: z.number().gt(0).max(1).default(d.topP).describe('Nucleus sampling mass'),
      top_k: z.number().int().min(0).max(1_000_000).default(d.topK).describe('Top-k sampling (0 = off)'),
      thinking: thinking.default([]).describe(`Thinking-in-Modalities: generate these first and condition on them (${thinkable.join(', ') || 'none'})`),
    })
    .strict();
}

/** Parses parameters given as JSON values (config file, execute request); a bad value is a 400 naming it. */
export function parseGenerationParams(pkg: ModelPackage, value: unknown, where = 'generation parameters'): GenerationParams {
  const normalized = value && typeof value === 'object' && !Array.isArray(value) ? normalizeThinking(value as Record<string, unknown>) : value;
  const result = generationParamsSchema(pkg).safeParse(normalized ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`);
    throw badRequest(`Invalid ${where}: ${problems.join('; ')}. ${describeParams(pkg)}`);
  }
  return result.data as GenerationParams;
}

/**
 * Parameters from a query string: numbers from their decimal text, `thinking` comma-separated. Only the
 * generation parameter names are read; the caller decides what other names mean.
 */
export function parseGenerationQuery(pkg: ModelPackage, query: Record<string, string>): GenerationParams {
  const raw: Record<string, unknown> = {};
  for (const name of GENERATION_PARAM_NAMES) {
    const text = query[name];
    if (text === undefined) continue;
    if (name === 'thinking') raw.thinking = text.trim() === '' ? [] : text.split(',').map((part) => part.trim());
    else raw[name] = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text.trim()) ? Number(text) : text;
  }
  return parseGenerationParams(pkg, raw, 'generation query parameters');
}

/** Sources in their canonical order (MODALITY_IDS: Sentinel-2 first), so the same sources anchor the same lattice. */
export function canonicalSources(sources: GenerationSource[]): GenerationSource[] {
  const seen = new Set<Modality>();
  for (const source of sources) {
    if (seen.has(source.modality)) throw badRequest(`Source modality ${source.modality} is given twice; give each modality once.`);
    seen.add(source.modality);
  }
  return [...sources].sort((a, b) => MODALITY_IDS.indexOf(a.modality) - MODALITY_IDS.indexOf(b.modality));
}

/** A canonical text of a spec: equal for equal specs from any form or instance (keys, collection ids). */
export function canonicalSpec(spec: GenerationSpec): string {
  const p = spec.params;
  return JSON.stringify({
    sources: canonicalSources(spec.sources).map((s) => [s.modality, s.href]),
    params: [p.seed, p.timesteps, p.temperature, p.top_p, p.top_k, [...p.thinking]],
  });
}

function normalizeThinking(value: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(value.thinking)) return value;
  return { ...value, thinking: value.thinking.map((name) => (typeof name === 'string' ? (parseModality(name) ?? name) : name)) };
}

function describeParams(pkg: ModelPackage): string {
  const d = pkg.manifest.defaults;
  return (
    `Parameters: seed (integer >= 0, default 0), timesteps (1..${pkg.manifest.diffusion.numTrainTimesteps}, default ${d.timesteps}), ` +
    `temperature (>= 0, default ${d.temperature}), top_p (0 < p <= 1, default ${d.topP}), top_k (integer >= 0, default ${d.topK}), ` +
    `thinking (${thinkingModalities(pkg).join(', ') || 'none'}).`
  );
}
