import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import { RequestBudget, runWithBudget } from '../net/request-budget.js';

/**
 * Gives each request its RequestBudget (src/net/request-budget.ts): REQUEST_TIMEOUT_MS for all its fetches
 * together and RASTER_MAX_DECODED_BYTES_PER_REQUEST for its reads. The handler is raced against the deadline,
 * so the client gets its 504 on time even while shared work (a tile another request also waits for) goes on.
 */
export function requestBudget(config: Pick<Config, 'REQUEST_TIMEOUT_MS' | 'RASTER_MAX_DECODED_BYTES_PER_REQUEST'>): MiddlewareHandler {
  return (c, next) => {
    const budget = new RequestBudget(config.REQUEST_TIMEOUT_MS, config.RASTER_MAX_DECODED_BYTES_PER_REQUEST);
    // A plain timer, not the budget's AbortSignal (that one is made only when a fetch or decode waits on it),
    // and as few promises as possible: on Node 20 every promise of a request under AsyncLocalStorage costs an
    // async-hook call, a measurable part of a cache hit.
    return new Promise<void>((resolve, reject) => {
      let timer = setTimeout(() => reject(budget.timeoutError()), budget.timeoutMs);
      timer.unref();
      extenders.set(c.req.raw, (ms, error) => {
        clearTimeout(timer);
        timer = setTimeout(() => reject(error), ms);
        timer.unref();
      });
      const settle = () => {
        clearTimeout(timer);
        budget.dispose();
      };
      runWithBudget(budget, next).then(
        () => {
          settle();
          resolve();
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  };
}

const extenders = new WeakMap<Request, (ms: number, error: Error) => void>();

/**
 * Gives a request that waits for the model (a generated tile) `ms` from now instead of REQUEST_TIMEOUT_MS:
 * model time is not upstream time. Its chips are bounded on their own (each chip's reads by a deadline of
 * their own in the chip engine); past `ms` the client gets `error` (a 504) while the chips go on being made
 * and cached for the next request.
 */
export function extendDeadline(c: Context, ms: number, error: Error): void {
  extenders.get(c.req.raw)?.(ms, error);
}
