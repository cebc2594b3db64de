import { clampMercatorLat, lonLatToMercator, type TileMatrixLimits } from '../grid/tiles.js';
import type { TileMatrixSetEntry } from '../grid/tms.js';
import { IMAGE_FORMATS, IMAGE_MEDIA_TYPES } from '../render/types.js';
import type { CollectionView } from './collections.js';
import { collectionPath } from './collections.js';
import { CRS84, href, MEDIA, REL, type Link, type QueryPairs } from './links.js';

/**
 * Tileset metadata, tilesets lists and TileJSON for one collection (OGC API - Tiles Part 1, TMS 2.0).
 * Item links are typed (GDAL picks by `type`, OpenLayers crashes on untyped ones) and templated with
 * {tileMatrix}/{tileRow}/{tileCol}; every href keeps the collection's query.
 */
export const TILE_FORMATS = IMAGE_FORMATS.map((f) => ({ f, type: IMAGE_MEDIA_TYPES[f] }));

/** Map tiles are rendered images; coverage tiles are the values themselves (GeoTIFF float32, physical units). */
export type TilesDataType = 'map' | 'coverage';

export const COVERAGE_MEDIA_TYPE = 'image/tiff; application=geotiff';
const COVERAGE_FORMATS = [{ f: 'tiff', type: COVERAGE_MEDIA_TYPE }];

/**
 * Item links of map tiles in reverse preference, PNG last: OpenLayers' OGCMapTile takes the last item link of a
 * known image type (and JPEG has no transparency); GDAL picks by type, whatever the order.
 */
const ITEM_LINK_FORMATS = [...TILE_FORMATS].reverse();

function formatsOf(dataType: TilesDataType) {
  return dataType === 'map' ? TILE_FORMATS : COVERAGE_FORMATS;
}

export function tilesPath(collectionId: string, dataType: TilesDataType = 'map'): string {
  return `${collectionPath(collectionId)}/${dataType}/tiles`;
}

export function tileTemplate(base: string, collection: CollectionView, tmsId: string, f: string, xyz = false, dataType: TilesDataType = 'map'): string {
  const vars = xyz ? '{z}/{y}/{x}' : '{tileMatrix}/{tileRow}/{tileCol}';
  return href(base, `${tilesPath(collection.id, dataType)}/${tmsId}/${vars}`, collection.linkQuery, [['f', f]]);
}

function tilesetLinks(base: string, collection: CollectionView, tms: TileMatrixSetEntry, dataType: TilesDataType): Link[] {
  const id = tms.definition.id;
  const query: QueryPairs = collection.linkQuery;
  const links: Link[] = [
    { href: href(base, `${tilesPath(collection.id, dataType)}/${id}`, query, [['f', 'json']]), rel: 'self', type: MEDIA.json, title: `${collection.title} (${id})` },
    // Two encodings of the tiling scheme, in this order: GDAL >= 3.8 and OpenLayers take the first (2.0);
    // GDAL 3.6/3.7 (Debian 12, its QGIS) keep the last one and parse only the TMS 1.0 encoding.
    { href: `${base}/tileMatrixSets/${id}`, rel: REL.tilingScheme, type: MEDIA.json, title: `${id} (TMS 2.0)` },
    { href: `${base}/tileMatrixSets/${id}?tmsVersion=1.0`, rel: REL.tilingScheme, type: MEDIA.json, title: `${id} (TMS 1.0 encoding, for GDAL < 3.8)` },
    { href: href(base, collectionPath(collection.id), query), rel: REL.geodata, type: MEDIA.json, title: collection.title },
    ...(dataType === 'map' ? ITEM_LINK_FORMATS : COVERAGE_FORMATS).map(
      (format): Link => ({
        href: tileTemplate(base, collection, id, format.f, false, dataType),
        rel: 'item',
        type: format.type,
        title: `${format.f.toUpperCase()} tiles`,
        templated: true,
      }),
    ),
  ];
  if (id === 'WebMercatorQuad' && dataType === 'map') {
    links.push({ href: href(base, `${tilesPath(collection.id)}/${id}/tilejson.json`, query), rel: 'alternate', type: MEDIA.json, title: 'TileJSON 3.0.0' });
  }
  return links;
}

/** The members a tileset shares with its entry in the tilesets list (what the Tiles ETS reads in both). */
function tilesetSummary(base: string, collection: CollectionView, tms: TileMatrixSetEntry, limits: TileMatrixLimits[], dataType: TilesDataType) {
  return {
    title: `${collection.title} (${tms.definition.id}${dataType === 'coverage' ? ', coverage' : ''})`,
    dataType,
    crs: tms.crsUri,
    tileMatrixSetURI: tms.definition.uri,
    tileMatrixSetId: tms.definition.id,
    tileMatrixSetLimits: limits,
    links: tilesetLinks(base, collection, tms, dataType),
  };
}

/** Full tileset metadata (`.../map/tiles/{tileMatrixSetId}`). */
export function tilesetDocument(
  base: string,
  collection: CollectionView,
  tms: TileMatrixSetEntry,
  limits: TileMatrixLimits[],
  bounds: readonly number[],
  dataType: TilesDataType = 'map',
) {
  const { links, ...summary } = tilesetSummary(base, collection, tms, limits, dataType);
  return {
    ...summary,
    description: collection.description,
    tileMatrixSet: tms.definition,
    boundingBox: { lowerLeft: [bounds[0], bounds[1]], upperRight: [bounds[2], bounds[3]], crs: CRS84 },
    attribution: collection.attribution,
    mediaTypes: formatsOf(dataType).map((format) => format.type),
    links,
  };
}

/** Tilesets list (`.../map/tiles`): one summary per tile matrix set, with what the Tiles ETS reads. */
export function tilesetsListDocument(
  base: string,
  collection: CollectionView,
  sets: { tms: TileMatrixSetEntry; limits: TileMatrixLimits[] }[],
  dataType: TilesDataType = 'map',
) {
  const title = dataType === 'map' ? 'Map tilesets' : 'Coverage tilesets';
  return {
    links: [
      { href: href(base, tilesPath(collection.id, dataType), collection.linkQuery, [['f', 'json']]), rel: 'self', type: MEDIA.json, title },
      { href: href(base, collectionPath(collection.id), collection.linkQuery), rel: REL.geodata, type: MEDIA.json, title: collection.title },
    ],
    tilesets: sets.map(({ tms, limits }) => tilesetSummary(base, collection, tms, limits, dataType)),
  };
}

/** TileJSON 3.0.0 with XYZ templates (MapLibre, Leaflet, QGIS XYZ); WebMercatorQuad only. */
export function tileJsonDocument(
  base: string,
  collection: CollectionView,
  bounds: readonly number[],
  zoom: { min: number; max: number },
) {
  const west = bounds[0];
  const east = bounds[2];
  const south = clampMercatorLat(bounds[1]);
  const north = clampMercatorLat(bounds[3]);
  return {
    tilejson: '3.0.0',
    name: collection.title,
    description: collection.description,
    version: '1.0.0',
    attribution: collection.attribution ?? '',
    scheme: 'xyz',
    // Required by the 3.0.0 JSON Schema even for raster tiles (the prose requires it only for vector tiles).
    vector_layers: [],
    tiles: [tileTemplate(base, collection, 'WebMercatorQuad', 'png', true)],
    minzoom: zoom.min,
    maxzoom: zoom.max,
    bounds: [west, south, east, north],
    center: [(west + east) / 2, (south + north) / 2, fittingZoom([west, south, east, north], zoom)],
  };
}

/** Map viewport the TileJSON centre zoom is chosen for: the extent fits in 512 px (two 256 px tiles). */
const VIEW_PIXELS = 512;

/**
 * The deepest zoom at which the whole extent fits in VIEW_PIXELS, within the collection's zoom range: a map
 * opened on the centre shows the data (a 2 km chip at 15, a 100 km scene at 9), never a blank world.
 */
export function fittingZoom(bounds: readonly number[], zoom: { min: number; max: number }): number {
  const [minX, minY] = lonLatToMercator(bounds[0], bounds[1]);
  const [maxX, maxY] = lonLatToMercator(bounds[2], bounds[3]);
  const span = Math.max(maxX - minX, maxY - minY);
  const world = 2 * lonLatToMercator(180, 0)[0];
  const fit = span > 0 ? Math.floor(Math.log2((VIEW_PIXELS / 256) * (world / span))) : zoom.max;
  return Math.min(zoom.max, Math.max(zoom.min, fit));
}

/** `/tileMatrixSets` list. */
export function tileMatrixSetsDocument(base: string, sets: TileMatrixSetEntry[]) {
  return {
    links: [{ href: `${base}/tileMatrixSets?f=json`, rel: 'self', type: MEDIA.json, title: 'Tile matrix sets' }],
    tileMatrixSets: sets.map((entry) => ({
      id: entry.definition.id,
      title: entry.definition.title,
      uri: entry.definition.uri,
      crs: entry.definition.crs,
      links: [{ href: `${base}/tileMatrixSets/${entry.definition.id}`, rel: 'self', type: MEDIA.json, title: entry.definition.title }],
    })),
  };
}
