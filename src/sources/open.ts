import { LRUCache } from 'lru-cache';
import { badRequest, isOgcError, upstreamError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { MODALITIES, type Modality } from '../modalities.js';
import type { GuardedFetch } from '../net/types.js';
import { createBlockCache, snapshotStats, type ByteStats } from '../raster/block-cache.js';
import { CachedByteSource, fileRangeReader, httpRangeReader, raceAbort } from '../raster/byte-source.js';
import { openCog, type CogDataset, type GeoreferenceHint } from '../raster/cog.js';
import { createDecodedTileCache } from '../raster/decoded-cache.js';
import { resolveModalitySource } from '../stac/resolve.js';
import type { ModalitySource } from '../stac/types.js';
import { createModalityReader } from './modality-reader.js';
import { plainGeoTiffSource } from './plain-geotiff.js';
import type { ModalityReader } from './types.js';

export interface SourceOpenerContext {
  fetch: GuardedFetch;
  /** Budget of the shared byte-block cache (default 64 MiB). */
  blockCacheBytes?: number;
  /** Budget of the shared cache of decoded internal tiles (default 128 MiB; 0 disables it). */
  decodedCacheBytes?: number;
  metrics?: Metrics;
  logger?: Logger;
  /** How many opened readers / datasets to keep (default 256 / 512). */
  maxReaders?: number;
  maxDatasets?: number;
}

export interface OpenOptions {
  /** Operator configuration: permits file:// hrefs. Never set for user input. */
  trusted?: boolean;
  signal?: AbortSignal;
}

export interface SourceOpenerStats extends ByteStats {
  /** Bytes held by the block cache now. */
  cachedBytes: number;
  /** Internal tiles served decoded from cache / decoded afresh. */
  decodedHits: number;
  decodedMisses: number;
  openedReaders: number;
}

export interface SourceOpener {
  open(href: string, modality: Modality, options?: OpenOptions): Promise<ModalityReader>;
  /** Cumulative upstream counters; diff two snapshots for per-read figures. */
  stats(): SourceOpenerStats;
}

/**
 * Opens STAC items and plain GeoTIFFs as ModalityReaders. Opened readers and parsed GeoTIFF headers are cached
 * (LRU), so a tile request normally costs only the range reads of its pixels, and those go through a byte-block
 * cache shared by everything this opener reads.
 */
export function createSourceOpener(ctx: SourceOpenerContext): SourceOpener {
  const blocks = createBlockCache(ctx.blockCacheBytes ?? 64 * 1024 * 1024);
  const decoded = ctx.decodedCacheBytes === 0 ? undefined : createDecodedTileCache(ctx.decodedCacheBytes);
  const readers = new LRUCache<string, Promise<ModalityReader>>({ max: ctx.maxReaders ?? 256 });
  const datasets = new LRUCache<string, Promise<CogDataset>>({ max: ctx.maxDatasets ?? 512 });
  // Byte sources only remember a file's size and batch block fetches; the blocks live in the shared cache.
  const sources = new LRUCache<string, CachedByteSource>({ max: 4096 });

  function byteSource(href: string, trusted: boolean): CachedByteSource {
    const scheme = schemeOf(href);
    if (scheme === 'file:' && !trusted) {
      throw badRequest(`file:// URLs are not accepted here (${href}); use an http(s) URL`);
    }
    let source = sources.get(href);
    if (!source) {
      // Upstream request/byte metrics are counted by the guarded fetch itself; local files are not upstream.
      const read = scheme === 'file:' ? fileRangeReader(href) : httpRangeReader(href, ctx.fetch);
      source = new CachedByteSource(href, read, blocks);
      sources.set(href, source);
    }
    return source;
  }

  function dataset(href: string, trusted: boolean, signal?: AbortSignal, hint?: GeoreferenceHint): Promise<CogDataset> {
    const key = `${trusted ? 't' : 'u'} ${href}`;
    let pending = datasets.get(key);
    if (!pending) {
      // Opening is not tied to the first caller's signal: the result is shared with later callers.
      pending = openCog(byteSource(href, trusted), { hint, decoded });
      datasets.set(key, pending);
      pending.catch(() => datasets.delete(key));
    }
    return raceAbort(pending, signal);
  }

  async function openReader(href: string, modality: Modality, options: OpenOptions): Promise<ModalityReader> {
    const trusted = options.trusted ?? false;
    const source = byteSource(href, trusted);
    const head = new Uint8Array((await source.fetch([{ offset: 0, length: 16 }], options.signal))[0]);
    let modalitySource: ModalitySource;
    if (isTiff(head)) {
      modalitySource = plainGeoTiffSource(href, await dataset(href, trusted, options.signal), modality);
    } else if (looksLikeJson(head)) {
      const size = source.fileSize;
      const bytes = new Uint8Array((await source.fetch([{ offset: 0, length: size ?? 8 * 1024 * 1024 }], options.signal))[0]);
      let item: unknown;
      try {
        item = JSON.parse(new TextDecoder().decode(bytes));
      } catch (error) {
        throw upstreamError(`${href} starts like JSON but does not parse (${(error as Error).message})`, error);
      }
      modalitySource = resolveModalitySource(item, href, modality);
    } else if (head.length === 0) {
      throw upstreamError(`${href} is empty: not a GeoTIFF or STAC item`);
    } else {
      throw upstreamError(`${href} is neither a GeoTIFF nor a STAC item JSON (not a GeoTIFF: wrong magic bytes)`);
    }
    const hrefs = [...new Set(modalitySource.bands.map((band) => band.href))];
    const opened = await Promise.all(
      hrefs.map((bandHref) => {
        const band = modalitySource.bands.find((candidate) => candidate.href === bandHref);
        return dataset(bandHref, trusted, options.signal, { crs: band?.crs, transform: band?.transform });
      }),
    );
    return createModalityReader(modalitySource, new Map(hrefs.map((bandHref, i) => [bandHref, opened[i]])));
  }

  return {
    async open(href, modality, options = {}) {
      if (!(modality in MODALITIES)) throw badRequest(`Unknown modality "${modality}"`);
      const key = `${options.trusted ? 't' : 'u'} ${modality} ${href}`;
      let pending = readers.get(key);
      if (!pending) {
        pending = openReader(href, modality, { trusted: options.trusted }).catch((error: unknown) => {
          readers.delete(key);
          throw normalizeError(href, error);
        });
        readers.set(key, pending);
        pending.catch(() => undefined);
        ctx.logger?.debug({ href, modality }, 'opening source');
      }
      return raceAbort(pending, options.signal);
    },
    stats: () => ({
      ...snapshotStats(blocks.stats),
      cachedBytes: blocks.size(),
      decodedHits: decoded?.hits ?? 0,
      decodedMisses: decoded?.misses ?? 0,
      openedReaders: readers.size,
    }),
  };
}

function schemeOf(href: string): string {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw badRequest(`"${href}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'file:') {
    throw badRequest(`Unsupported URL scheme ${url.protocol} in ${href}: use http(s)`);
  }
  return url.protocol;
}

function isTiff(head: Uint8Array): boolean {
  return head.length >= 4 && ((head[0] === 0x49 && head[1] === 0x49) || (head[0] === 0x4d && head[1] === 0x4d));
}

function looksLikeJson(head: Uint8Array): boolean {
  const text = new TextDecoder().decode(head).trimStart();
  return text.startsWith('{') || text.startsWith('[');
}

function normalizeError(href: string, error: unknown): unknown {
  if (isOgcError(error) || (error instanceof Error && error.name === 'AbortError')) return error;
  return upstreamError(`Opening ${href} failed: ${error instanceof Error ? error.message : String(error)}`, error);
}
