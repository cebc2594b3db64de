import { LRUCache } from 'lru-cache';
import { badRequest, isOgcError, upstreamError, upstreamTimeout } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { MODALITIES, type Modality } from '../modalities.js';
import { readBody } from '../net/guarded-fetch.js';
import { mib, withDeadline } from '../net/request-budget.js';
import type { GuardedFetch } from '../net/types.js';
import { BLOCK_SIZE, createBlockCache, snapshotStats, type ByteStats } from '../raster/block-cache.js';
import { CachedByteSource, fileRangeReader, httpRangeReader, raceAbort } from '../raster/byte-source.js';
import { openCog, type CogDataset, type GeoreferenceHint } from '../raster/cog.js';
import { DecodePool } from '../raster/decode-pool.js';
import { createDecodedTileCache } from '../raster/decoded-cache.js';
import { DEFAULT_RASTER_LIMITS, DecodeGate, type RasterLimits } from '../raster/read-limits.js';
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
  /** Bytes of parsed headers kept, by readers and by datasets each (default 32 MiB; docs/limits.md). */
  headerCacheBytes?: number;
  /** Largest STAC item document read (default 2 MiB). */
  maxDocumentBytes?: number;
  /** Read budgets (tiles per read, decoded bytes per request and in flight, header bytes); defaults apply. */
  limits?: Partial<Pick<RasterLimits, 'maxTilesPerRead' | 'maxDecodedBytesPerRequest' | 'maxHeaderBytes'>> & { maxDecodedBytesInFlight?: number };
  /** Decode worker threads (0: decode on the calling thread, the default here; the service sets DECODE_WORKERS). */
  decodeWorkers?: number;
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
  /** Stops the decode workers. */
  close(): Promise<void>;
}

/** Header memory of an opened source before its size is known (a COG header is a few KiB to a few MiB). */
const PROVISIONAL_HEADER_BYTES = 64 * 1024;

/**
 * Opens STAC items and plain GeoTIFFs as ModalityReaders. Opened readers and parsed GeoTIFF headers are cached
 * (LRU), so a tile request normally costs only the range reads of its pixels, and those go through a byte-block
 * cache shared by everything this opener reads.
 */
export function createSourceOpener(ctx: SourceOpenerContext): SourceOpener {
  const blocks = createBlockCache(ctx.blockCacheBytes ?? 64 * 1024 * 1024);
  const decoded = ctx.decodedCacheBytes === 0 ? undefined : createDecodedTileCache(ctx.decodedCacheBytes);
  const limits: RasterLimits = {
    maxTilesPerRead: ctx.limits?.maxTilesPerRead ?? DEFAULT_RASTER_LIMITS.maxTilesPerRead,
    maxDecodedBytesPerRequest: ctx.limits?.maxDecodedBytesPerRequest ?? DEFAULT_RASTER_LIMITS.maxDecodedBytesPerRequest,
    maxHeaderBytes: ctx.limits?.maxHeaderBytes ?? DEFAULT_RASTER_LIMITS.maxHeaderBytes,
    inFlight: new DecodeGate(ctx.limits?.maxDecodedBytesInFlight ?? 768 * 1024 * 1024),
    pool: ctx.decodeWorkers ? new DecodePool(ctx.decodeWorkers) : undefined,
  };
  const maxDocumentBytes = ctx.maxDocumentBytes ?? 2 * 1024 * 1024;
  // Parsed headers are bounded by the bytes their IFDs hold (tile offset arrays dominate), not by count: one
  // file of tiny tiles can hold as much as a thousand ordinary COGs. A reader holds its datasets, so it is
  // counted with their size too; together the two caches hold at most twice headerCacheBytes.
  const headerCacheBytes = ctx.headerCacheBytes ?? 32 * 1024 * 1024;
  const readers = new LRUCache<string, Promise<ModalityReader>>({ maxSize: headerCacheBytes, sizeCalculation: () => PROVISIONAL_HEADER_BYTES });
  const datasets = new LRUCache<string, Promise<CogDataset>>({ maxSize: headerCacheBytes, sizeCalculation: () => PROVISIONAL_HEADER_BYTES });
  const readerBytes = new WeakMap<ModalityReader, number>();
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
      const opening = openCog(byteSource(href, trusted), { hint, decoded, limits });
      pending = opening;
      datasets.set(key, opening);
      opening.then(
        (opened) => resize(datasets, key, opening, opened.headerBytes),
        () => datasets.delete(key),
      );
    }
    return raceAbort(pending, withDeadline(signal));
  }

  /** Re-books a cached promise at its real size once known (if it is still the cached one). */
  function resize<T extends object>(cache: LRUCache<string, Promise<T>>, key: string, entry: Promise<T>, bytes: number): void {
    if (cache.peek(key) !== entry) return;
    // lru-cache keeps an entry's size when the same value is set again, so the entry is taken out and put back.
    cache.delete(key);
    cache.set(key, entry, { size: Math.max(1, bytes) });
  }

  async function openReader(href: string, modality: Modality, options: OpenOptions): Promise<ModalityReader> {
    const trusted = options.trusted ?? false;
    const source = byteSource(href, trusted);
    const head = new Uint8Array((await source.fetch([{ offset: 0, length: 16 }], options.signal))[0]);
    let modalitySource: ModalitySource;
    if (isTiff(head)) {
      modalitySource = plainGeoTiffSource(href, await dataset(href, trusted, options.signal), modality);
    } else if (looksLikeJson(head)) {
      const bytes = await readDocument(href, source, trusted, options.signal);
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
    const reader = createModalityReader(modalitySource, new Map(hrefs.map((bandHref, i) => [bandHref, opened[i]])));
    readerBytes.set(reader, opened.reduce((sum, dataset) => sum + dataset.headerBytes, 0));
    return reader;
  }

  /**
   * A STAC item's JSON, at most maxDocumentBytes. A document that fits in the first block is already here;
   * a longer one is fetched whole (not through the block cache, which keeps COG headers and pixels), and
   * refused as soon as its declared or received size passes the limit.
   */
  async function readDocument(href: string, source: CachedByteSource, trusted: boolean, signal?: AbortSignal): Promise<Uint8Array> {
    const size = source.fileSize;
    if (size !== null && size > maxDocumentBytes) {
      throw upstreamError(`${href} is too large: ${size} bytes, the limit is STAC_MAX_DOCUMENT_BYTES=${maxDocumentBytes} (${mib(maxDocumentBytes)}) for a STAC item document`);
    }
    if (size !== null && size <= BLOCK_SIZE) return new Uint8Array((await source.fetch([{ offset: 0, length: size }], signal))[0]);
    if (schemeOf(href) === 'file:' && trusted) {
      return new Uint8Array((await source.fetch([{ offset: 0, length: size ?? maxDocumentBytes }], signal))[0]);
    }
    const response = await ctx.fetch(href, { headers: { accept: 'application/json, application/geo+json;q=0.9, */*;q=0.1' }, signal });
    return readBody(response, maxDocumentBytes, 'STAC_MAX_DOCUMENT_BYTES');
  }

  return {
    async open(href, modality, options = {}) {
      if (!(modality in MODALITIES)) throw badRequest(`Unknown modality "${modality}"`);
      const key = `${options.trusted ? 't' : 'u'} ${modality} ${href}`;
      let pending = readers.get(key);
      if (!pending) {
        const opening = openReader(href, modality, { trusted: options.trusted }).catch((error: unknown) => {
          readers.delete(key);
          throw normalizeError(href, error);
        });
        pending = opening;
        readers.set(key, opening);
        opening.then((reader) => resize(readers, key, opening, readerBytes.get(reader) ?? PROVISIONAL_HEADER_BYTES), () => undefined);
        ctx.logger?.debug({ href, modality }, 'opening source');
      }
      return raceAbort(pending, withDeadline(options.signal));
    },
    stats: () => ({
      ...snapshotStats(blocks.stats),
      cachedBytes: blocks.size(),
      decodedHits: decoded?.hits ?? 0,
      decodedMisses: decoded?.misses ?? 0,
      openedReaders: readers.size,
    }),
    close: async () => limits.pool?.close(),
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
  if (error instanceof Error && error.name === 'TimeoutError') return upstreamTimeout(`Opening ${href} timed out`, error);
  return upstreamError(`Opening ${href} failed: ${error instanceof Error ? error.message : String(error)}`, error);
}
