import { AsyncLocalStorage } from 'node:async_hooks';
import { badRequest, upstreamTimeout } from '../errors.js';

/**
 * What one request may still spend: one deadline for all its fetches (REQUEST_TIMEOUT_MS) and one account of
 * the decoded bytes its reads reserve (RASTER_MAX_DECODED_BYTES_PER_REQUEST).
 *
 * The budget travels with the request through everything it awaits (AsyncLocalStorage) rather than as a
 * parameter: a tile is produced inside single-flight work that is deliberately not tied to the caller's
 * AbortSignal (src/tiles/service.ts), and generated tiles read through ModalityReader.read() in the chip
 * engine; a parameter would have to cross both of those interfaces. Shared work runs in the context of the
 * request that started it, so it is bounded by that request's deadline, and every waiter is answered within
 * its own (the HTTP layer races the deadline).
 */
export class RequestBudget {
  private readonly expiresAt: number;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private decoded = 0;

  constructor(
    readonly timeoutMs: number,
    readonly maxDecodedBytes: number = Number.POSITIVE_INFINITY,
  ) {
    this.expiresAt = performance.now() + timeoutMs;
  }

  /** Milliseconds left before the deadline (0 once it has passed). */
  remainingMs(): number {
    return Math.max(0, this.expiresAt - performance.now());
  }

  /**
   * Aborts at the deadline with the 504 itself as the reason, so whatever observes the abort (a fetch, a body
   * read, a wait for decode room) reports it the same way. Created on first use (a budget made outside the
   * HTTP layer costs nothing until something waits on it).
   */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      const fire = () => controller.abort(this.timeoutError());
      const remaining = this.remainingMs();
      if (remaining === 0) fire();
      else {
        this.timer = setTimeout(fire, remaining);
        this.timer.unref();
      }
    }
    return this.controller.signal;
  }

  timeoutError(doing?: string) {
    return upstreamTimeout(
      `The request did not finish within REQUEST_TIMEOUT_MS=${this.timeoutMs} ms${doing ? ` (${doing})` : ''}; ` +
        'the source answers too slowly for one request',
    );
  }

  /** Decoded bytes reserved so far by this request's reads. */
  get decodedBytes(): number {
    return this.decoded;
  }

  /** Books `bytes` against the request's decode budget before they are decoded; a 400 when they do not fit. */
  spendDecoded(bytes: number, what: string): void {
    if (this.decoded + bytes > this.maxDecodedBytes) {
      throw badRequest(
        `${what} needs ${mib(bytes)} of decoded pixels and this request has ${mib(Math.max(0, this.maxDecodedBytes - this.decoded))} ` +
          `left of RASTER_MAX_DECODED_BYTES_PER_REQUEST=${this.maxDecodedBytes}; request a finer zoom level, or use a COG with ` +
          'overviews and 256-1024 px internal tiles',
      );
    }
    this.decoded += bytes;
  }

  /** Stops the deadline timer once the request is answered. */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const storage = new AsyncLocalStorage<RequestBudget>();

/** Runs `work` with `budget` as the current request's budget (for everything `work` awaits). */
export function runWithBudget<T>(budget: RequestBudget, work: () => Promise<T>): Promise<T> {
  return storage.run(budget, work);
}

/** The budget of the request being served, or undefined outside one (CLI, tests that call readers directly). */
export function currentBudget(): RequestBudget | undefined {
  return storage.getStore();
}

/** The caller's signal combined with the current request's deadline. */
export function withDeadline(signal: AbortSignal | undefined): AbortSignal | undefined {
  const budget = currentBudget();
  if (!budget) return signal;
  return signal ? AbortSignal.any([signal, budget.signal]) : budget.signal;
}

export function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}
