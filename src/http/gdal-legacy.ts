import type { Context, MiddlewareHandler } from 'hono';
import { badRequest } from '../errors.js';
import { MATRIX_LIMITS_PARAM, MATRIX_LIMITS_VALUE } from '../ogc/gdal-legacy.js';

/**
 * Which requests get the whole-matrix limits of src/ogc/gdal-legacy.ts: those with `limits=matrix` in the query
 * (links keep it, so every request after the first carries it), and GDAL <= 3.7 recognised by its headers.
 * GDAL 3.6 sends no User-Agent and exactly `Accept: application/geo+json, application/json` for documents;
 * later versions that send `User-Agent: GDAL/x.y` are matched by version. Its tile requests carry neither
 * header, which is why the flag goes into every link of a response chosen by headers.
 */
const GDAL_DOCUMENT_ACCEPT = 'application/geo+json, application/json';
const LEGACY_GDAL_AGENT = /\bGDAL\/(?:[12]\.|3\.[0-7](?:\.|\b))/;

export function wantsMatrixLimits(c: Context): boolean {
  return hasMatrixLimitsFlag(c) || isLegacyGdal(c.req.header('user-agent'), c.req.header('accept'));
}

/** The query flag alone: what tiles go by, so tile responses never vary by User-Agent (CDN friendly). */
export function hasMatrixLimitsFlag(c: Context): boolean {
  const flag = c.req.query(MATRIX_LIMITS_PARAM);
  if (flag === undefined) return false;
  if (flag !== MATRIX_LIMITS_VALUE) {
    throw badRequest(`${MATRIX_LIMITS_PARAM} must be '${MATRIX_LIMITS_VALUE}' (whole-matrix tile limits for GDAL <= 3.7), got '${flag}'.`);
  }
  return true;
}

export function isLegacyGdal(userAgent: string | undefined, accept: string | undefined): boolean {
  if (userAgent) return LEGACY_GDAL_AGENT.test(userAgent);
  return accept?.trim() === GDAL_DOCUMENT_ACCEPT;
}

/** Documents chosen by User-Agent must not be shared by caches across clients (route middleware). */
export const varyOnClient: MiddlewareHandler = async (c, next) => {
  await next();
  c.res.headers.append('vary', 'User-Agent');
};
