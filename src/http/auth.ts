import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import { OgcError } from '../errors.js';

/**
 * Optional API keys (API_KEYS; none configured = everything open) for the expensive operations: process
 * execution and generating tiles that are not cached yet. A key comes as `X-API-Key: <key>`,
 * `Authorization: Bearer <key>`, or `api_key=<key>` in the query for XYZ clients that cannot set headers
 * (QGIS, Leaflet, MapLibre tile templates); document links keep the query parameter (src/http/link-view.ts).
 * No key is 401, a wrong key 403, both OGC exceptions that say how to send one.
 */
export const API_KEY_PARAM = 'api_key';

type KeyConfig = Pick<Config, 'API_KEYS' | 'API_KEYS_PUBLIC_CACHE'>;

/** The key the request presents, from the header first, then the query. */
export function presentedApiKey(c: Context): string | undefined {
  const header = c.req.header('x-api-key')?.trim();
  if (header) return header;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
  if (bearer) return bearer;
  const query = c.req.query(API_KEY_PARAM)?.trim();
  return query || undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Constant-time membership (digests have equal length, so timingSafeEqual applies to any key). */
function isKnownKey(keys: readonly string[], presented: string): boolean {
  const candidate = digest(presented);
  let found = false;
  for (const key of keys) found = timingSafeEqual(digest(key), candidate) || found;
  return found;
}

const HOW_TO = `send the key as 'X-API-Key: <key>', 'Authorization: Bearer <key>', or '${API_KEY_PARAM}=<key>' in the query`;

/** Throws 401 (no key) or 403 (unknown key) when keys are configured; returns when access is granted. */
export function requireApiKey(c: Context, config: KeyConfig, what = 'This operation'): void {
  if (config.API_KEYS.length === 0) return;
  const presented = presentedApiKey(c);
  if (!presented) throw new OgcError('unauthorized', `${what} needs an API key: ${HOW_TO}.`);
  if (!isKnownKey(config.API_KEYS, presented)) throw new OgcError('forbidden', `The API key is not valid for ${what.toLowerCase()}; ${HOW_TO} with a valid key.`);
}

/**
 * For the tile route of generated collections, before it generates: passes without keys configured or with a
 * valid key; a wrong key is always 403; with no key, a tile that is already cached stays public when
 * API_KEYS_PUBLIC_CACHE is on (`isCached` is asked only then), anything else is 401.
 */
export async function authorizeGeneratedTile(c: Context, config: KeyConfig, isCached: () => Promise<boolean>): Promise<void> {
  if (config.API_KEYS.length === 0) return;
  if (!presentedApiKey(c) && config.API_KEYS_PUBLIC_CACHE && (await isCached())) return;
  requireApiKey(c, config, 'Generating a tile that is not cached yet');
}

/** POST /processes/{processId}/execution (mounted by path, ahead of the routes, so keys are checked before any 404). */
export function executionAuth(config: KeyConfig): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'POST') requireApiKey(c, config, 'Executing a process');
    await next();
  };
}
