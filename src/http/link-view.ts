import type { Context } from 'hono';
import { MATRIX_LIMITS_PARAM, MATRIX_LIMITS_VALUE } from '../ogc/gdal-legacy.js';
import type { QueryPairs } from '../ogc/links.js';
import { API_KEY_PARAM } from './auth.js';
import { wantsMatrixLimits } from './gdal-legacy.js';

/**
 * A collection as this request's links should show it: besides the collection's own query (source, render and
 * generation parameters), links keep `limits=matrix` for GDAL <= 3.7 (chosen by headers or the flag, since its
 * tile requests carry neither) and the caller's `api_key`, so clients that only follow links keep both.
 */
export function linkView<T extends { linkQuery: QueryPairs }>(c: Context, collection: T): T {
  const extra: [string, string][] = [];
  if (wantsMatrixLimits(c)) extra.push([MATRIX_LIMITS_PARAM, MATRIX_LIMITS_VALUE]);
  const key = c.req.query(API_KEY_PARAM);
  if (key) extra.push([API_KEY_PARAM, key]);
  if (extra.length === 0) return collection;
  return { ...collection, linkQuery: [...collection.linkQuery, ...extra] } as T;
}
