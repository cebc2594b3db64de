import { CRS84, href, MEDIA, REL, selfAndAlternate, type Link, type QueryPairs } from './links.js';

/** Collection documents (OGC API - Common Part 2), shaped for GDAL's OGCAPI driver and the Tiles ETS. */
export interface CollectionView {
  id: string;
  title: string;
  description: string;
  modality: string;
  linkQuery: QueryPairs;
  attribution?: string;
  /** Generated collections: how the content is made (model, weights, sources, parameters). */
  generatedBy?: { model: string; version: string; weights: string; sources: { modality: string; href: string }[]; parameters: Record<string, unknown> };
  /** Further links, by path on this service (e.g. a collection output's defining request, rel workflow). */
  relatedLinks?: { path: string; rel: string; type: string; title: string }[];
}

export function collectionPath(id: string): string {
  return `/collections/${encodeURIComponent(id)}`;
}

export function collectionDocument(base: string, collection: CollectionView, bounds: readonly number[]) {
  const path = collectionPath(collection.id);
  const links: Link[] = [
    ...selfAndAlternate(base, path, collection.linkQuery, collection.title),
    { href: `${base}/collections`, rel: 'collection', type: MEDIA.json, title: 'All collections' },
    // GDAL and the ETS require the tilesets-map href to end with /tiles (no f=, the query keeps the source).
    {
      href: href(base, `${path}/map/tiles`, collection.linkQuery),
      rel: REL.tilesetsMap,
      type: MEDIA.json,
      title: 'Map tilesets',
    },
    {
      href: href(base, `${path}/coverage/tiles`, collection.linkQuery),
      rel: REL.tilesetsCoverage,
      type: MEDIA.json,
      title: 'Coverage tilesets (GeoTIFF values in physical units)',
    },
    ...(collection.relatedLinks ?? []).map(({ path: linked, ...link }) => ({ href: `${base}${linked}`, ...link })),
  ];
  return {
    id: collection.id,
    title: collection.title,
    description: collection.description,
    attribution: collection.attribution,
    keywords: [collection.modality],
    // Exactly one bbox: GDAL's OGCAPI driver reads only the first and refuses a collection without one.
    extent: { spatial: { bbox: [[bounds[0], bounds[1], bounds[2], bounds[3]]], crs: CRS84 } },
    crs: [CRS84],
    dataType: 'map',
    ...(collection.generatedBy ? { generatedBy: collection.generatedBy } : {}),
    links,
  };
}

export function collectionsDocument(base: string, documents: ReturnType<typeof collectionDocument>[]) {
  return {
    links: selfAndAlternate(base, '/collections', [], 'Collections'),
    collections: documents,
  };
}
