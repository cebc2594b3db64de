import { open as openFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { badRequest, isOgcError, upstreamError } from '../errors.js';
import type { GuardedFetch } from '../net/types.js';
import { BLOCK_SIZE, type BlockCache } from './block-cache.js';

/** What a range read returns: the bytes starting at `start`, and the file size when the server told it. */
export interface RangeResult {
  start: number;
  data: Uint8Array;
  total?: number;
}

/** Reads bytes [start, end] (inclusive) of one file. Short data means end of file. */
export type RangeReader = (start: number, end: number, signal?: AbortSignal) => Promise<RangeResult>;

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
    const data = new Uint8Array(await response.arrayBuffer());
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

/**
 * A geotiff.js source (duck-typed BaseSource) reading aligned 64 KiB blocks through the shared block cache.
 * Missing blocks that are adjacent (or one block apart) are merged into one range request; a block already
 * being fetched by another reader is awaited, not fetched again.
 */
export class CachedByteSource {
  private total: number | undefined;

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
    const blocks = await this.blocks([...needed].sort((a, b) => a - b), signal);
    return slices.map((slice) => this.assemble(slice, blocks));
  }

  private key(index: number): string {
    return `${this.url}#${index}`;
  }

  private async blocks(indices: number[], signal?: AbortSignal): Promise<Map<number, Uint8Array>> {
    const found = new Map<number, Uint8Array>();
    const waiting: Promise<void>[] = [];
    const missing: number[] = [];
    for (const index of indices) {
      if (this.total !== undefined && index * BLOCK_SIZE >= this.total) {
        found.set(index, new Uint8Array(0));
        continue;
      }
      const hit = this.cache.get(this.key(index));
      if (hit) {
        this.cache.stats.blockHits++;
        found.set(index, hit);
        continue;
      }
      const pending = this.cache.inFlight.get(this.key(index));
      if (pending) {
        this.cache.stats.blockHits++;
        waiting.push(pending.then((block) => void found.set(index, block)));
        continue;
      }
      missing.push(index);
    }
    for (const run of mergeRuns(missing)) waiting.push(this.fetchRun(run, found));
    // The shared fetches are not tied to this caller's signal (other readers may wait on them); the caller
    // stops waiting as soon as its own signal fires.
    await raceAbort(Promise.all(waiting), signal);
    return found;
  }

  private fetchRun(run: { first: number; last: number }, found: Map<number, Uint8Array>): Promise<void> {
    const count = run.last - run.first + 1;
    const request = this.read(run.first * BLOCK_SIZE, (run.last + 1) * BLOCK_SIZE - 1).then((result) => {
      this.cache.stats.requests++;
      this.cache.stats.bytes += result.data.byteLength;
      if (result.total !== undefined) this.total = result.total;
      return result;
    });
    const perBlock: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const index = run.first + i;
      const key = this.key(index);
      const block = request.then((result) => {
        const from = index * BLOCK_SIZE - result.start;
        const data = from < 0 ? new Uint8Array(0) : result.data.subarray(from, from + BLOCK_SIZE);
        // Copy so that a cached block does not pin the whole merged response buffer.
        const copy = data.slice();
        if (copy.byteLength > 0) this.cache.set(key, copy);
        return copy;
      });
      block.catch(() => undefined).finally(() => this.cache.inFlight.delete(key));
      this.cache.inFlight.set(key, block);
      this.cache.stats.blockMisses++;
      perBlock.push(block.then((data) => void found.set(index, data)));
    }
    return Promise.all(perBlock).then(() => undefined);
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
const MAX_RUN_BLOCKS = 256;

/** Groups sorted block indices into runs, bridging gaps of one block (cheaper than a second request). */
export function mergeRuns(indices: number[]): { first: number; last: number }[] {
  const runs: { first: number; last: number }[] = [];
  for (const index of indices) {
    const current = runs[runs.length - 1];
    if (current && index - current.last <= 2 && index - current.first < MAX_RUN_BLOCKS) current.last = index;
    else runs.push({ first: index, last: index });
  }
  return runs;
}

function raceAbort<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
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
