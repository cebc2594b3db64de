import type { GeoTIFFImage } from 'geotiff';
import { badRequest, OgcError } from '../errors.js';
import { currentBudget, mib, RequestBudget } from '../net/request-budget.js';
import type { DecodePool } from './decode-pool.js';
import { isBlockCached } from './decoded-cache.js';

/**
 * Budgets of windowed reads, checked before anything is decoded (docs/limits.md):
 * - internal tiles/strips per read (a file of 1x1 px tiles would otherwise fan out into millions of fetches),
 * - decoded bytes per request (the tiles a read decodes plus the window arrays it fills), booked on the
 *   request's RequestBudget so every read of one request counts against one figure,
 * - decoded bytes in flight in the whole process: a read waits for room (FIFO), up to its request's deadline.
 */
export interface RasterLimits {
  maxTilesPerRead: number;
  /** Used when a read runs outside a request (CLI, tests): then the read alone counts. */
  maxDecodedBytesPerRequest: number;
  maxHeaderBytes: number;
  inFlight?: DecodeGate;
  /** Worker threads that decode tiles; without it geotiff.js decodes on the calling thread. */
  pool?: DecodePool;
}

export const DEFAULT_RASTER_LIMITS: RasterLimits = {
  maxTilesPerRead: 1024,
  maxDecodedBytesPerRequest: 256 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024 * 1024,
};

export interface ReadPlan {
  /** Internal tiles or strips the window touches (times the samples read, for band-separate files). */
  tiles: number;
  /** Decoded bytes the read holds at its peak: those tiles plus the window's output arrays. */
  bytes: number;
}

/**
 * What reading `samples` of `window` from `image` costs, from the image's layout alone: the tiles it touches,
 * and the bytes of those not decoded already (src/raster/decoded-cache.ts) plus the window arrays.
 */
export function planRead(image: GeoTIFFImage, window: readonly [number, number, number, number], samples: readonly number[]): ReadPlan {
  const [x0, y0, x1, y1] = window;
  const width = image.getWidth();
  const height = image.getHeight();
  const tileWidth = image.isTiled ? image.getTileWidth() : width;
  const tileHeight = Math.min(image.getTileHeight() || height, height);
  const firstX = Math.floor(x0 / tileWidth);
  const firstY = Math.floor(y0 / tileHeight);
  const across = Math.max(0, Math.ceil(Math.min(x1, width) / tileWidth) - firstX);
  const down = Math.max(0, Math.ceil(Math.min(y1, height) / tileHeight) - firstY);
  const separate = image.planarConfiguration === 2;
  const perBlock = separate ? samples : [samples[0] ?? 0];
  const tiles = across * down * perBlock.length;
  const sampleBytes = samples.map((sample) => image.getSampleByteSize(sample));
  const blockBytes = tileWidth * tileHeight * (separate ? Math.max(...sampleBytes) : image.getBytesPerPixel());
  // Counting cached blocks is only worth it below the tile cap (beyond it the read is refused anyway).
  let toDecode = tiles;
  if (tiles <= 4096) {
    toDecode = 0;
    for (let y = firstY; y < firstY + down; y++) {
      for (let x = firstX; x < firstX + across; x++) for (const sample of perBlock) if (!isBlockCached(image, x, y, sample)) toDecode++;
    }
  }
  const windowPixels = (x1 - x0) * (y1 - y0);
  return { tiles, bytes: toDecode * blockBytes + windowPixels * sampleBytes.reduce((sum, bytes) => sum + bytes, 0) };
}

/**
 * Checks a read against the tile cap and books its bytes on the request (a 400 naming the limit when either
 * does not fit), then waits for room in the process-wide gate. Returns the release function.
 */
export async function admitRead(url: string, plan: ReadPlan, limits: RasterLimits, signal?: AbortSignal): Promise<() => void> {
  if (plan.tiles > limits.maxTilesPerRead) {
    throw badRequest(
      `Reading ${url} onto this grid touches ${plan.tiles} internal tiles, over RASTER_MAX_TILES_PER_READ=${limits.maxTilesPerRead}; ` +
        'request a finer zoom level, or use a COG with overviews and 256-1024 px internal tiles',
    );
  }
  const request = currentBudget();
  const budget = request ?? new RequestBudget(Number.POSITIVE_INFINITY, limits.maxDecodedBytesPerRequest);
  budget.spendDecoded(plan.bytes, `Reading ${url} onto this grid`);
  if (!limits.inFlight) return () => undefined;
  // Waiting for room ends a little before the request's deadline, so the answer says the service was busy
  // (503) rather than that the source was slow (504).
  const waitMs = request ? Math.max(0, request.remainingMs() - Math.min(1000, request.timeoutMs / 10)) : Number.POSITIVE_INFINITY;
  return limits.inFlight.acquire(plan.bytes, waitMs, signal);
}

/** A byte semaphore: decoded bytes held by reads in progress, process-wide; waiters are served in order. */
export class DecodeGate {
  private used = 0;
  private readonly queue: { bytes: number; grant: () => void }[] = [];

  constructor(readonly maxBytes: number) {}

  get inUse(): number {
    return this.used;
  }

  async acquire(bytes: number, waitMs = Number.POSITIVE_INFINITY, signal?: AbortSignal): Promise<() => void> {
    if (bytes > this.maxBytes) {
      throw badRequest(
        `This read needs ${mib(bytes)} of decoded pixels, more than RASTER_MAX_DECODED_BYTES_IN_FLIGHT=${this.maxBytes} allows at once; request a finer zoom level`,
      );
    }
    if (this.queue.length === 0 && this.used + bytes <= this.maxBytes) return this.take(bytes);
    signal?.throwIfAborted();
    return new Promise<() => void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = (reason: unknown) => {
        const index = this.queue.indexOf(entry);
        if (index < 0) return;
        this.queue.splice(index, 1);
        clearTimeout(timer);
        this.pump();
        reject(reason);
      };
      const onAbort = () => giveUp(signal?.reason);
      const entry = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take(bytes));
        },
      };
      this.queue.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(waitMs)) timer = setTimeout(() => giveUp(busy(this.maxBytes)), waitMs);
    });
  }

  private take(bytes: number): () => void {
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.pump();
    };
  }

  /** Grants waiters in order while they fit (take() books each grant at once, so the next sees it). */
  private pump(): void {
    while (this.queue.length > 0 && this.used + this.queue[0]!.bytes <= this.maxBytes) this.queue.shift()!.grant();
  }
}

/** No decode room before the request's deadline: a 503, the service is busy rather than the source slow. */
function busy(maxBytes: number): OgcError {
  return new OgcError(
    'unavailable',
    `The service is decoding as much as RASTER_MAX_DECODED_BYTES_IN_FLIGHT=${maxBytes} allows and no room came free before this request's deadline; retry shortly`,
  );
}
