import { CRS84, href, MEDIA, REL, selfAndAlternate, type Link, type QueryPairs } from './links.js';

/** Collection documents (OGC API - Common Part 2), shaped for GDAL's OGCAPI driver and the Tiles ETS. */
export interface CollectionView {
  id: string;
  title: string;
  description: string;
  modality: string;
  linkQuery: QueryPairs;
  attribution?: string;
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
    links,
  };
}

export function collectionsDocument(base: string, documents: ReturnType<typeof collectionDocument>[]) {
  return {
    links: selfAndAlternate(base, '/collections', [], 'Collections'),
    collections: documents,
  };
}
