import { setMaxListeners } from 'node:events';
import { open as openFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { badRequest, isOgcError, upstreamError } from '../errors.js';
import { readBody } from '../net/guarded-fetch.js';
import type { GuardedFetch } from '../net/types.js';
import { BLOCK_SIZE, type BlockCache } from './block-cache.js';
import { mergeRanges } from './range-merge.js';

/** What a range read returns: the bytes starting at `start`, and the file size when the server told it. */
export interface RangeResult {
  start: number;
  data: Uint8Array;
  total?: number;
}

/** Reads bytes [start, end] (inclusive) of one file. Short data means end of file. */
export type RangeReader = (start: number, end: number, signal?: AbortSignal) => Promise<RangeResult>;

/**
 * A server that ignores Range answers every read with the whole file; that is accepted up to this size (a small
 * file is then cached whole), beyond it every tile would download the file again.
 */
export const MAX_WHOLE_FILE_BYTES = 16 * 1024 * 1024;

/** Range reads over HTTP through the guarded fetch (which already bounds time, size and hosts). */
export function httpRangeReader(url: string, fetch: GuardedFetch): RangeReader {
  return async (start, end, signal) => {
    const response = await fetch(url, { headers: { range: `bytes=${start}-${end}` }, signal });
    if (response.status === 416) {
      await response.body?.cancel();
      return { start, data: new Uint8Array(0) };
    }
    if (response.status !== 206 && response.status !== 200) {
      await response.body?.cancel();
      throw upstreamError(`Fetching ${url} failed: upstream answered HTTP ${response.status}`);
    }
    // readBody, not arrayBuffer(): a timeout while the body arrives is a 504, not a 502, and a body longer than
    // what was asked for is cut off as soon as it is.
    if (response.status === 200 && Number(response.headers.get('content-length')) > MAX_WHOLE_FILE_BYTES) {
      await response.body?.cancel();
      throw upstreamError(
        `${url} ignores Range requests and is larger than ${MAX_WHOLE_FILE_BYTES} bytes; serve it from a server that supports byte ranges`,
      );
    }
    const data = await readBody(response, response.status === 206 ? end - start + 1 : MAX_WHOLE_FILE_BYTES);
    if (response.status === 200) {
      // A server that ignores Range sends the whole file; keep it (the guarded fetch capped its size).
      return { start: 0, data, total: data.byteLength };
    }
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    const got = match ? Number(match[1]) : start;
    const total = match && match[3] !== '*' ? Number(match[3]) : undefined;
    return { start: got, data, total };
  };
}

/** Range reads of a local file (file:// hrefs from operator configuration only). */
export function fileRangeReader(url: string): RangeReader {
  const path = fileURLToPath(url);
  return async (start, end) => {
    let handle;
    try {
      handle = await openFile(path, 'r');
    } catch (error) {
      throw badRequest(`Cannot open local file ${path}: ${(error as Error).message}`, error);
    }
    try {
      const { size } = await handle.stat();
      const length = Math.max(0, Math.min(end, size - 1) - start + 1);
      const data = new Uint8Array(length);
      if (length > 0) await handle.read(data, 0, length, start);
      return { start, data, total: size };
    } finally {
      await handle.close();
    }
  };
}

interface Slice {
  offset: number;
  length: number;
}

interface ByteRangeWaiter extends Waiter {
  slice: Slice;
}

interface Waiter {
  resolve: (bytes: Uint8Array) => void;
  reject: (error: unknown) => void;
}

/**
 * A geotiff.js source (duck-typed BaseSource) over the shared byte cache, with two kinds of reads:
 * - `fetch`: aligned 16 KiB blocks, for the header, IFDs and tag arrays (small reads close together, so the
 *   first block answers most of them);
 * - `fetchExact`: exactly the requested ranges, for internal tiles (`tileReader()` is what each image reads
 *   its pixels through), cached per range; rounding them to blocks fetched 2.5x the bytes on 64 px tiles.
 * geotiff.js asks for each internal tile in a separate call, so what is missing is collected for one
 * event-loop turn and fetched together: adjacent blocks or ranges (and small gaps) share one request.
 * Anything already being fetched by anyone is awaited, not fetched again.
 */
export class CachedByteSource {
  private total: number | undefined;
  private pending = new Map<number, Waiter>();
  private pendingExact = new Map<string, ByteRangeWaiter>();
  private flushScheduled = false;

  constructor(
    readonly url: string,
    private readonly read: RangeReader,
    private readonly cache: BlockCache,
  ) {}

  get fileSize(): number | null {
    return this.total ?? null;
  }

  async close(): Promise<void> {}

  async fetch(slices: Slice[], signal?: AbortSignal): Promise<ArrayBuffer[]> {
    const needed = new Set<number>();
    for (const slice of slices) {
      const first = Math.floor(slice.offset / BLOCK_SIZE);
      const last = Math.floor((slice.offset + Math.max(slice.length, 1) - 1) / BLOCK_SIZE);
      for (let b = first; b <= last; b++) needed.add(b);
    }
    const indices = [...needed];
    // The shared fetches are not tied to this caller's signal (other readers may wait on them); the caller
    // stops waiting as soon as its own signal fires.
    const blocks = await raceAbort(Promise.all(indices.map((index) => this.block(index))), signal);
    const found = new Map(indices.map((index, i) => [index, blocks[i]]));
    return slices.map((slice) => this.assemble(slice, found));
  }

  /** Exactly these byte ranges; each result is a fresh buffer the caller may transfer to a worker. */
  async fetchExact(slices: Slice[], signal?: AbortSignal): Promise<ArrayBuffer[]> {
    const parts = await raceAbort(Promise.all(slices.map((slice) => this.range(slice))), signal);
    return parts.map((part) => part.slice().buffer);
  }

  /** What an image reads its internal tiles through (assigned to GeoTIFFImage.source by openCog). */
  tileReader(): { fetch: (slices: Slice[], signal?: AbortSignal) => Promise<ArrayBuffer[]> } {
    return { fetch: (slices, signal) => this.fetchExact(slices, signal) };
  }

  private key(index: number): string {
    return `${this.url}#${index}`;
  }

  private rangeKey(slice: Slice): string {
    return `${this.url}@${slice.offset}+${slice.length}`;
  }

  private range(slice: Slice): Promise<Uint8Array> | Uint8Array {
    // Past the end of the file there is nothing to ask for (a truncated file then fails to decode: a 502).
    if (slice.length <= 0 || (this.total !== undefined && slice.offset >= this.total)) return new Uint8Array(0);
    const key = this.rangeKey(slice);
    return this.lookup(key, this.cache.get(key) ?? this.fromBlocks(slice), (waiter) => this.pendingExact.set(key, { slice, ...waiter }));
  }

  /** The cached bytes, a fetch of them already under way, or a new fetch queued for the next flush. */
  private lookup(key: string, cached: Uint8Array | undefined, enqueue: (waiter: Waiter) => void): Promise<Uint8Array> | Uint8Array {
    if (cached) {
      this.cache.stats.blockHits++;
      return cached;
    }
    const inFlight = this.cache.inFlight.get(key);
    if (inFlight) {
      this.cache.stats.blockHits++;
      return inFlight;
    }
    this.cache.stats.blockMisses++;
    const promise = new Promise<Uint8Array>((resolve, reject) => enqueue({ resolve, reject }));
    promise.catch(() => undefined).finally(() => this.cache.inFlight.delete(key));
    this.cache.inFlight.set(key, promise);
    this.scheduleFlush();
    return promise;
  }

  /** A range that cached blocks already cover (small overview tiles often sit in the header block). */
  private fromBlocks(slice: Slice): Uint8Array | undefined {
    const blocks = new Map<number, Uint8Array>();
    const first = Math.floor(slice.offset / BLOCK_SIZE);
    const last = Math.floor((slice.offset + Math.max(slice.length, 1) - 1) / BLOCK_SIZE);
    for (let index = first; index <= last; index++) {
      const block = this.cache.get(this.key(index));
      if (!block) return undefined;
      blocks.set(index, block);
    }
    const bytes = new Uint8Array(this.assemble(slice, blocks));
    return bytes.byteLength === slice.length ? bytes : undefined;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private block(index: number): Promise<Uint8Array> | Uint8Array {
    if (this.total !== undefined && index * BLOCK_SIZE >= this.total) return new Uint8Array(0);
    const key = this.key(index);
    return this.lookup(key, this.cache.get(key), (waiter) => this.pending.set(index, waiter));
  }

  /** Fetches everything requested during the last event-loop turn, merged into as few requests as sensible. */
  private flush(): void {
    this.flushScheduled = false;
    this.flushExact();
    const batch = this.pending;
    this.pending = new Map();
    for (const run of mergeRuns([...batch.keys()].sort((a, b) => a - b))) {
      this.read(run.first * BLOCK_SIZE, (run.last + 1) * BLOCK_SIZE - 1).then(
        (result) => {
          this.cache.stats.requests++;
          this.cache.stats.bytes += result.data.byteLength;
          if (result.total !== undefined) this.total = result.total;
          for (let index = run.first; index <= run.last; index++) {
            const from = index * BLOCK_SIZE - result.start;
            // Copy so that a cached block does not pin the whole merged response buffer.
            const block = from < 0 ? new Uint8Array(0) : result.data.slice(from, from + BLOCK_SIZE);
            if (block.byteLength > 0) this.cache.set(this.key(index), block);
            batch.get(index)?.resolve(block);
          }
        },
        (error: unknown) => {
          for (let index = run.first; index <= run.last; index++) batch.get(index)?.reject(error);
        },
      );
    }
  }

  private flushExact(): void {
    if (this.pendingExact.size === 0) return;
    const waiters = [...this.pendingExact.values()];
    this.pendingExact = new Map();
    for (const run of mergeRanges(waiters.map((waiter) => waiter.slice))) {
      const members = waiters.filter(({ slice }) => slice.offset >= run.start && slice.offset + slice.length <= run.end);
      const last = this.total !== undefined ? Math.min(run.end, this.total) - 1 : run.end - 1;
      this.read(run.start, last).then(
        (result) => {
          this.cache.stats.requests++;
          this.cache.stats.bytes += result.data.byteLength;
          if (result.total !== undefined) this.total = result.total;
          for (const { slice, resolve } of members) {
            const from = slice.offset - result.start;
            // Copy so that a cached range does not pin the whole merged response buffer.
            const bytes = from < 0 ? new Uint8Array(0) : result.data.slice(from, from + slice.length);
            if (bytes.byteLength === slice.length) this.cache.set(this.rangeKey(slice), bytes);
            resolve(bytes);
          }
        },
        (error: unknown) => {
          for (const { reject } of members) reject(error);
        },
      );
    }
  }

  private assemble(slice: Slice, blocks: Map<number, Uint8Array>): ArrayBuffer {
    const end = this.total !== undefined ? Math.min(slice.offset + slice.length, this.total) : slice.offset + slice.length;
    const out = new Uint8Array(Math.max(0, end - slice.offset));
    let written = 0;
    while (written < out.length) {
      const position = slice.offset + written;
      const block = blocks.get(Math.floor(position / BLOCK_SIZE));
      const within = position % BLOCK_SIZE;
      if (!block || within >= block.byteLength) break;
      const take = Math.min(block.byteLength - within, out.length - written);
      out.set(block.subarray(within, within + take), written);
      written += take;
    }
    return written === out.length ? out.buffer : out.slice(0, written).buffer;
  }
}

/** At most 16 MiB per range request, well under the guarded fetch's response cap. */
const MAX_RUN_BLOCKS = (16 * 1024 * 1024) / BLOCK_SIZE;
/** Gaps of up to this many blocks (48 KiB) are fetched too: cheaper than another round trip. */
const MAX_GAP_BLOCKS = 3;

/** Groups sorted block indices into runs of at most 16 MiB, bridging small gaps. */
export function mergeRuns(indices: number[]): { first: number; last: number }[] {
  const runs: { first: number; last: number }[] = [];
  for (const index of indices) {
    const current = runs[runs.length - 1];
    if (current && index - current.last <= MAX_GAP_BLOCKS + 1 && index - current.first < MAX_RUN_BLOCKS) current.last = index;
    else runs.push({ first: index, last: index });
  }
  return runs;
}

/** Stops waiting for a shared promise when the caller's signal fires; the shared work itself goes on. */
export function raceAbort<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  // One signal often waits on many shared reads at once (a request's deadline over every source of a collection
  // list, one COG window over its internal tiles); each listener is removed when its read ends: not a leak.
  setMaxListeners(0, signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Turns any failure of a range read into an OgcError (fetch errors from the guarded fetch already are). */
export function asUpstreamError(url: string, error: unknown, what: string): Error {
  if (isOgcError(error)) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  return upstreamError(`${url}: ${what} (${error instanceof Error ? error.message : String(error)})`, error);
}
