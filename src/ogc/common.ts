import { href, MEDIA, REL, selfAndAlternate, type Link } from './links.js';

/** Landing page and conformance declaration (OGC API - Common Part 1, Tiles Part 1). */

/** Only the classes this service implements; clients and the ETS switch tests on by these strings. */
export const CONFORMANCE_CLASSES = [
  'http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page',
  'http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json',
  'http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html',
  'http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png',
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/jpeg',
  // Coverage tiles (geodata tilesets of dataType coverage) as GeoTIFF.
  'http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tiff',
  // OGC API - Processes 1.0 (src/processes, src/jobs) and the 2.0 draft's collection output.
  'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description',
  'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json',
  'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html',
  'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list',
  'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss',
  'http://www.opengis.net/spec/ogcapi-processes-1/2.0/conf/collection-output',
] as const;

export const SERVICE_TITLE = 'TerraMind OGC API';

export function landingPage(base: string): { title: string; description: string; links: Link[] } {
  return {
    title: SERVICE_TITLE,
    description:
      'TerraMind Earth-observation modalities as OGC API - Tiles (map and coverage tiles, TileJSON, XYZ): real inputs from STAC items ' +
      'and Cloud-Optimized GeoTIFFs, and modalities generated from them on demand; OGC API - Processes runs generation over an area.',
    links: [
      ...selfAndAlternate(base, '/', [], 'This document'),
      { href: `${base}/api`, rel: 'service-desc', type: MEDIA.openapi, title: 'OpenAPI 3.0 definition' },
      { href: href(base, '/api', [], [['f', 'html']]), rel: 'service-doc', type: MEDIA.html, title: 'API documentation' },
      { href: `${base}/conformance`, rel: REL.conformance, type: MEDIA.json, title: 'Conformance classes' },
      { href: `${base}/collections`, rel: REL.data, type: MEDIA.json, title: 'Collections' },
      { href: `${base}/tileMatrixSets`, rel: REL.tilingSchemes, type: MEDIA.json, title: 'Tile matrix sets' },
      { href: `${base}/processes`, rel: 'http://www.opengis.net/def/rel/ogc/1.0/processes', type: MEDIA.json, title: 'Processes' },
      { href: `${base}/jobs`, rel: 'http://www.opengis.net/def/rel/ogc/1.0/job-list', type: MEDIA.json, title: 'Jobs' },
    ],
  };
}

export function conformance(): { conformsTo: string[] } {
  return { conformsTo: [...CONFORMANCE_CLASSES] };
}
