import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import { RequestBudget, runWithBudget } from '../net/request-budget.js';
import { raceAbort } from '../raster/byte-source.js';

/**
 * Gives each request its RequestBudget (src/net/request-budget.ts): REQUEST_TIMEOUT_MS for all its fetches
 * together and RASTER_MAX_DECODED_BYTES_PER_REQUEST for its reads. The handler is raced against the deadline,
 * so the client gets its 504 on time even while shared work (a tile another request also waits for) goes on.
 */
export function requestBudget(config: Pick<Config, 'REQUEST_TIMEOUT_MS' | 'RASTER_MAX_DECODED_BYTES_PER_REQUEST'>): MiddlewareHandler {
  return async (_c, next) => {
    const budget = new RequestBudget(config.REQUEST_TIMEOUT_MS, config.RASTER_MAX_DECODED_BYTES_PER_REQUEST);
    try {
      await runWithBudget(budget, () => raceAbort(next(), budget.signal));
    } finally {
      budget.dispose();
    }
  };
}
