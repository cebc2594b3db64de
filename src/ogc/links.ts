/**
 * Absolute links that keep a collection's query (ad hoc source, render overrides), so clients that only
 * follow links keep the same content. Templated URI variables ({tileMatrix}, {z}, ...) are left unencoded.
 */
export interface Link {
  href: string;
  rel: string;
  type?: string;
  title?: string;
  templated?: boolean;
}

export type QueryPairs = readonly (readonly [string, string])[];

/** `base` + `path` + query; `path` may contain URI template variables, query values are percent-encoded. */
export function href(base: string, path: string, query: QueryPairs = [], extra: QueryPairs = []): string {
  const pairs = [...query, ...extra];
  if (pairs.length === 0) return `${base}${path}`;
  const search = pairs.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
  return `${base}${path}?${search}`;
}

export const REL = {
  conformance: 'http://www.opengis.net/def/rel/ogc/1.0/conformance',
  data: 'data',
  tilingSchemes: 'http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes',
  tilingScheme: 'http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme',
  tilesetsMap: 'http://www.opengis.net/def/rel/ogc/1.0/tilesets-map',
  tilesetsCoverage: 'http://www.opengis.net/def/rel/ogc/1.0/tilesets-coverage',
  geodata: 'http://www.opengis.net/def/rel/ogc/1.0/geodata',
} as const;

/** The CRS URI of lon/lat bounding boxes in collection and tileset documents. */
export const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';

export const MEDIA = {
  json: 'application/json',
  html: 'text/html',
  openapi: 'application/vnd.oai.openapi+json;version=3.0',
} as const;

/** self (JSON) and alternate (HTML) links of a document that has both representations. */
export function selfAndAlternate(base: string, path: string, query: QueryPairs, title: string): Link[] {
  return [
    { href: href(base, path, query, [['f', 'json']]), rel: 'self', type: MEDIA.json, title },
    { href: href(base, path, query, [['f', 'html']]), rel: 'alternate', type: MEDIA.html, title: `${title} (HTML)` },
  ];
}
