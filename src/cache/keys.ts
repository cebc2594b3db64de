import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LRUCache } from 'lru-cache';

/**
 * Cache keys: `<kind>/<version>[/<model>]/<ab>/<sha256>.<ext>`.
 * The version segment changes whenever the bytes for the same request could change (a new service release or a
 * render change), so old objects are never served for new code; expire old prefixes with a lifecycle rule.
 */
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The service release (package.json version). */
export const SERVICE_VERSION: string = packageJson.version;

/** Bump whenever render/encode code changes output bytes for the same inputs (palettes, stretches, encoder settings). */
export const RENDER_VERSION = 1;

export const CACHE_VERSION = `v${SERVICE_VERSION}-r${RENDER_VERSION}`;

export type CacheKeyParts = Record<string, string | number | boolean | undefined>;

const SAFE_SEGMENT = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Builds the key of one cached object. `parts` must hold every parameter that changes the bytes (collection, item
 * ids, assets, modality, tms/z/x/y, format, render params, and `model` = "<package name>@<version>" for generated
 * output); the caller owns that list. Order does not matter and `undefined` parts are left out. Values are compared
 * as strings, so `z: 3` and `z: '3'` give the same key.
 */
export function cacheKey(kind: string, parts: CacheKeyParts, extension: string): string {
  // Every tile request computes its key, most of them for keys seen before: the canonical form and its
  // sha256 were the largest single cost of a cache hit. The memo is keyed by the input exactly as given.
  const input = JSON.stringify([kind, extension, parts]);
  let key = keyMemo.get(input);
  if (key === undefined) {
    key = computeCacheKey(kind, parts, extension);
    keyMemo.set(input, key);
  }
  return key;
}

/** Keys computed lately (a few hundred bytes each, so at most a few MB). */
const keyMemo = new LRUCache<string, string>({ max: 10_000 });

function computeCacheKey(kind: string, parts: CacheKeyParts, extension: string): string {
  if (!SAFE_SEGMENT.test(kind)) throw new Error(`cacheKey: kind "${kind}" must match ${SAFE_SEGMENT}`);
  if (!SAFE_SEGMENT.test(extension)) throw new Error(`cacheKey: extension "${extension}" must match ${SAFE_SEGMENT}`);
  const entries = Object.entries(parts)
    .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
    .map(([name, value]) => [name, String(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify({ kind, version: CACHE_VERSION, extension, parts: entries });
  const hash = createHash('sha256').update(canonical).digest('hex');
  const model = parts.model === undefined ? '' : `${modelSegment(String(parts.model))}/`;
  return `${kind}/${CACHE_VERSION}/${model}${hash.slice(0, 2)}/${hash}.${extension}`;
}

/** A readable, path-safe form of the model name+version, so each model's objects share a prefix (lifecycle rules). */
function modelSegment(model: string): string {
  const slug = model
    .toLowerCase()
    .replace(/[^a-z0-9.@_-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 80);
  return `m-${slug || 'unnamed'}`;
}
