import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { isModality, MODALITY_IDS, type Modality } from '../modalities.js';

/**
 * The collections file (COLLECTIONS_FILE): operator-configured collections. Relative source paths resolve
 * against the file's own folder and become trusted file:// URLs (only the operator can name local files).
 */
const RenderParamValue = z.union([z.string(), z.number(), z.boolean()]);

/**
 * A generated collection: its sources by modality and its generation parameters, which the model package's
 * schema validates when the service starts (src/generation/params.ts: the same schema as the query form).
 */
const GenerateSchema = z
  .object({
    sources: z
      .partialRecord(z.enum(MODALITY_IDS), z.string().min(1))
      .refine((sources) => Object.keys(sources).length > 0, { message: 'name at least one source modality' }),
  })
  .catchall(z.unknown());

const CollectionEntrySchema = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, "_", "." and "-" only (max 64)'),
    title: z.string().min(1),
    description: z.string().default(''),
    modality: z.enum(MODALITY_IDS),
    /** STAC item or GeoTIFF: absolute http(s)/file URL, or a path relative to the collections file. */
    source: z.string().min(1).optional(),
    /** Instead of `source`: generate `modality` from these sources with these parameters. */
    generate: GenerateSchema.optional(),
    /** Render parameters (the modality renderer validates them), e.g. {"rescale": "0,255"}. */
    render: z.record(z.string(), RenderParamValue).default({}),
    minzoom: z.number().int().min(0).max(24).default(0),
    maxzoom: z.number().int().min(0).max(24).default(18),
    attribution: z.string().optional(),
  })
  .refine((entry) => entry.minzoom <= entry.maxzoom, { message: 'minzoom must not exceed maxzoom' })
  .refine((entry) => (entry.source === undefined) !== (entry.generate === undefined), {
    message: 'give either source (a STAC item or GeoTIFF) or generate (sources and parameters), not both',
  })
  .refine((entry) => !entry.generate || !(entry.modality in entry.generate.sources), {
    message: 'a generated collection cannot have its own modality among its sources',
  })
  .refine((entry) => !isModality(entry.id), {
    message: 'a configured id must not be a modality id (those are the ad hoc collections)',
  });

const CollectionsFileSchema = z.object({ collections: z.array(CollectionEntrySchema) });

export interface CollectionConfig {
  id: string;
  title: string;
  description: string;
  modality: Modality;
  /** Absolute URL (file:// for local paths); for a generated collection, a canonical text of what it is made from. */
  source: string;
  /** Generated collections: sources (absolute URLs) and the raw parameters, validated against the model package. */
  generate?: { sources: { modality: Modality; href: string }[]; params: Record<string, unknown> };
  /** Whether the source may use file:// and loopback hosts (configured by the operator). */
  trusted: boolean;
  render: Record<string, string>;
  minzoom: number;
  maxzoom: number;
  attribution?: string;
}

export function resolveSourceHref(source: string, baseDir: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return source;
  const path = isAbsolute(source) ? source : resolve(baseDir, source);
  return pathToFileURL(path).href;
}

/** Parses a collections document; `baseDir` is where relative sources resolve. Throws with every problem. */
export function parseCollections(document: unknown, baseDir: string): CollectionConfig[] {
  const parsed = CollectionsFileSchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid collections file:\n  ${problems.join('\n  ')}`);
  }
  const seen = new Set<string>();
  return parsed.data.collections.map((entry) => {
    if (seen.has(entry.id)) throw new Error(`Invalid collections file: duplicate id '${entry.id}'`);
    seen.add(entry.id);
    const { generate, ...rest } = entry;
    const render = Object.fromEntries(Object.entries(entry.render).map(([key, value]) => [key, String(value)]));
    if (generate) {
      const { sources, ...params } = generate;
      const resolved = Object.entries(sources).map(([modality, href]) => ({ modality: modality as Modality, href: resolveSourceHref(href!, baseDir) }));
      return { ...rest, source: `generate:${JSON.stringify(resolved)}`, trusted: true, render, generate: { sources: resolved, params } };
    }
    return { ...rest, source: resolveSourceHref(entry.source!, baseDir), trusted: true, render };
  });
}

export function loadCollectionsFile(path: string): CollectionConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read COLLECTIONS_FILE ${path}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`COLLECTIONS_FILE ${path} is not JSON: ${(error as Error).message}`);
  }
  return parseCollections(document, dirname(path));
}
