import { LRUCache } from 'lru-cache';
import { badRequest, notFound, OgcError } from '../errors.js';
import type { GenerationSource, GenerationSpec } from '../generation/types.js';
import { MODALITIES, MODALITY_IDS, parseModality, type Modality } from '../modalities.js';
import { parseRenderParams, renderParamsSchema } from '../render/index.js';
import type { CollectionView } from '../ogc/collections.js';
import type { ModalityReader } from '../sources/types.js';
import type { CollectionConfig } from './config.js';
import { GENERATION_PARAM_NAMES, parseGenerationParams, parseGenerationQuery } from '../generation/params.js';
import { generatedReader, resolveGeneration, type GenerationPort } from './generated.js';

/**
 * Collections the service can tile: the configured ones (COLLECTIONS_FILE) and ad hoc ones, one per modality,
 * whose source comes in the query named after the modality (`/collections/S2L2A?S2L2A=<item or COG URL>`).
 * A resolved collection carries the query parameters every link must keep, so clients that follow links
 * (GDAL, QGIS, OpenLayers) keep asking for the same source and rendering.
 */
export interface SourceOpenerPort {
  open(href: string, modality: Modality, options?: { trusted?: boolean; signal?: AbortSignal }): Promise<ModalityReader>;
}

export interface ResolvedCollection extends CollectionConfig {
  adHoc: boolean;
  /** Query parameters that identify this collection's content (source and render overrides), sorted. */
  linkQuery: [string, string][];
  /** Further inputs that change a tile's bytes (e.g. model name@version and seed for generated modalities). */
  keyParts?: Record<string, string>;
  /** Generated collections: what the chip engine makes the modality from, and how documents describe it. */
  generation?: GenerationSpec;
  generatedBy?: CollectionView['generatedBy'];
  relatedLinks?: CollectionView['relatedLinks'];
}

/**
 * Collection outputs of terramind-generate (src/processes/virtual-collections.ts): ids whose definition lives in
 * the job store, so any instance resolves them; `workflowPath` is where the defining request is served.
 */
export interface VirtualCollectionPort {
  find(id: string): Promise<{ id: string; output: Modality; spec: GenerationSpec } | undefined>;
  workflowPath(id: string): string;
}

export class CollectionRegistry {
  private readonly byId: Map<string, CollectionConfig>;
  private readonly boundsCache = new LRUCache<string, [number, number, number, number]>({ max: 1000 });

  constructor(
    configured: CollectionConfig[],
    private readonly opener: SourceOpenerPort,
    /** The model and chip engine, when the process loaded a model package (generated collections need both). */
    private readonly generation?: GenerationPort,
    private readonly virtual?: VirtualCollectionPort,
  ) {
    this.byId = new Map(configured.map((entry) => [entry.id, entry]));
    // Configured generated collections are checked against the model now: a bad parameter stops the start-up.
    for (const entry of configured) if (entry.generate && generation) this.resolve(entry.id, {});
  }

  /** The configured collections this process can serve (generated ones only when a model is loaded). */
  configured(): CollectionConfig[] {
    return [...this.byId.values()].filter((entry) => !entry.generate || this.generation);
  }

  /** The collection for a path id and the request's query, or a 404/400 that says what to do. */
  resolve(id: string, query: Record<string, string>): ResolvedCollection {
    const configured = this.byId.get(id);
    if (configured) {
      const overrides = renderOverrides(configured.modality, query);
      const render = { ...configured.render, ...Object.fromEntries(overrides) };
      parseRenderParams(configured.modality, render);
      const collection: ResolvedCollection = { ...configured, render, adHoc: false, linkQuery: overrides };
      if (!configured.generate) return collection;
      const generation = this.requireGeneration(configured.modality);
      const sources = configured.generate.sources.map((s) => ({ ...s, trusted: true }));
      const params = parseGenerationParams(generation.engine.pkg, configured.generate.params, `generation parameters of collection ${id}`);
      const made = resolveGeneration(generation, configured.modality, sources, params);
      // The operator's title and description lead; the random-weights warning and the recipe are always added.
      return {
        ...collection,
        ...made,
        title: `${configured.title}${made.warning}`,
        description: [configured.description, made.description].filter(Boolean).join(' '),
        render: { ...made.render, ...render },
      };
    }
    const modality = parseModality(id);
    if (!modality || modality !== id) {
      const known = [...this.byId.keys()];
      throw notFound(
        `Unknown collection '${id}'. Configured: ${known.length ? known.join(', ') : '(none)'}; ` +
          `or use a modality id (${Object.keys(MODALITIES).join(', ')}) with its source in the query, e.g. /collections/S2L2A?S2L2A=<STAC item URL>.`,
      );
    }
    const source = query[modality];
    const generatedFrom = MODALITY_IDS.filter((m) => m !== modality && query[m] !== undefined);
    if ((source === undefined || source.trim() === '') && generatedFrom.length > 0) {
      return this.adHocGenerated(modality, generatedFrom, query);
    }
    if (source === undefined || source.trim() === '') {
      throw badRequest(
        `Collection '${modality}' is an ad hoc collection: give its source in the query parameter '${modality}' ` +
          `(a STAC item or GeoTIFF URL), e.g. /collections/${modality}?${modality}=https://example.com/item.json, ` +
          `or the sources to generate it from, e.g. /collections/${modality}?S2L2A=https://example.com/item.json`,
      );
    }
    const url = adHocUrl(modality, source);
    const overrides = renderOverrides(modality, query);
    parseRenderParams(modality, Object.fromEntries(overrides));
    return {
      id: modality,
      title: `${MODALITIES[modality].title} from ${url.href}`,
      description: `Ad hoc ${modality} collection over ${url.href}`,
      modality,
      source: url.href,
      trusted: false,
      render: Object.fromEntries(overrides),
      minzoom: 0,
      maxzoom: 18,
      adHoc: true,
      linkQuery: [[modality, url.href], ...overrides],
    };
  }

  /** resolve(), and the collection outputs of processes (looked up in the job store): what HTTP handlers call. */
  async resolveAny(id: string, query: Record<string, string>): Promise<ResolvedCollection> {
    if (!this.virtual || this.byId.has(id) || parseModality(id) === id) return this.resolve(id, query);
    const found = await this.virtual.find(id);
    if (!found) return this.resolve(id, query);
    const generation = this.requireGeneration(found.output);
    const overrides = renderOverrides(found.output, query);
    parseRenderParams(found.output, Object.fromEntries(overrides));
    const sources = found.spec.sources.map((source) => this.sourceFor(source.modality, source.href));
    const made = resolveGeneration(generation, found.output, sources, found.spec.params);
    return {
      id,
      modality: found.output,
      trusted: false,
      minzoom: 0,
      maxzoom: 18,
      adHoc: false,
      ...made,
      render: { ...made.render, ...Object.fromEntries(overrides) },
      title: `${made.title}: collection output of process terramind-generate`,
      linkQuery: overrides,
      relatedLinks: [
        { path: this.virtual.workflowPath(id), rel: 'http://www.opengis.net/def/rel/ogc/1.0/workflow', type: 'application/json', title: 'The execute request that defines this collection' },
      ],
    };
  }

  /** Opens the collection's source (metadata only); the opener keeps its own caches. */
  open(collection: ResolvedCollection, signal?: AbortSignal): Promise<ModalityReader> {
    if (collection.generation) return generatedReader(this.requireGeneration(collection.modality).engine, collection.generation, collection.modality, signal);
    return this.opener.open(collection.source, collection.modality, { trusted: collection.trusted, signal });
  }

  /** `/collections/{OUTPUT}?S2L2A=...&seed=...`: the output generated from every source modality in the query. */
  private adHocGenerated(modality: Modality, from: Modality[], query: Record<string, string>): ResolvedCollection {
    const generation = this.requireGeneration(modality);
    const sources = from.map((m) => this.configuredSource(m, adHocUrl(m, query[m]!)) ?? { modality: m, href: adHocUrl(m, query[m]!).href, trusted: false });
    const overrides = renderOverrides(modality, query);
    parseRenderParams(modality, Object.fromEntries(overrides));
    const params = parseGenerationQuery(generation.engine.pkg, query);
    const made = resolveGeneration(generation, modality, sources, params);
    // Links keep the sources and the parameters the client gave (defaults stay implicit), in canonical order.
    const given = GENERATION_PARAM_NAMES.filter((name) => query[name] !== undefined).map(
      (name): [string, string] => [name, name === 'thinking' ? params.thinking.join(',') : String(params[name])],
    );
    return {
      id: modality,
      modality,
      trusted: false,
      minzoom: 0,
      maxzoom: 18,
      adHoc: true,
      ...made,
      render: { ...made.render, ...Object.fromEntries(overrides) },
      // Sources as the client named them (a sample's collection URL, not the local file behind it).
      linkQuery: [...made.generation.sources.map((s): [string, string] => [s.modality, query[s.modality]!]), ...given, ...overrides],
    };
  }

  /**
   * A generation source as the engine reads it: a configured collection's URL stands for that collection's own
   * source (as in ad hoc tile queries); anything else is the user's URL, never trusted. Process inputs use it.
   */
  sourceFor(modality: Modality, href: string): GenerationSource {
    let url: URL | undefined;
    try {
      url = new URL(href);
    } catch {
      url = undefined;
    }
    return (url && this.configuredSource(modality, url)) ?? { modality, href, trusted: false };
  }

  /**
   * A source named by a configured collection's URL (`<service>/collections/<id>`, as the viewer's samples are):
   * that collection's own source, read directly (it may be a local file only the operator can name).
   */
  private configuredSource(modality: Modality, url: URL) {
    const match = /\/collections\/([^/]+)$/.exec(url.pathname);
    const entry = match ? this.byId.get(decodeURIComponent(match[1]!)) : undefined;
    if (!entry || entry.generate || entry.modality !== modality) return undefined;
    return { modality, href: entry.source, trusted: true };
  }

  private requireGeneration(modality: Modality): GenerationPort {
    if (!this.generation) {
      throw new OgcError('unavailable', `This service runs without a model package, so ${modality} cannot be generated here.`);
    }
    return this.generation;
  }

  /** CRS84 footprint of a collection, remembered per source so listing collections stays cheap. */
  async bounds(collection: ResolvedCollection, signal?: AbortSignal): Promise<[number, number, number, number]> {
    const key = `${collection.modality} ${collection.source}`;
    const cached = this.boundsCache.get(key);
    if (cached) return cached;
    const reader = await this.open(collection, signal);
    this.boundsCache.set(key, reader.bounds);
    return reader.bounds;
  }
}

/** An ad hoc source from the query: an absolute http(s) URL, or a 400 naming the parameter. */
function adHocUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`Query parameter '${name}' must be an absolute http(s) URL, got '${value}'.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badRequest(`Query parameter '${name}' must be an http(s) URL, got scheme '${url.protocol}'.`);
  }
  return url;
}

/** Names of the render parameters a modality's renderer takes (other query parameters are not content). */
export function renderParamNames(modality: Modality): string[] {
  const schema = renderParamsSchema(modality) as { shape?: Record<string, unknown> };
  return Object.keys(schema.shape ?? {});
}

/** The query's render parameters for a modality, sorted so links and cache keys are canonical. */
function renderOverrides(modality: Modality, query: Record<string, string>): [string, string][] {
  const names = new Set(renderParamNames(modality));
  return Object.entries(query)
    .filter(([key]) => names.has(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
