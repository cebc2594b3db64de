import { readFileSync } from 'node:fs';
import { notFound } from '../errors.js';

/**
 * The registered OGC 2D Tile Matrix Sets this service tiles in. The JSON files in ./tms are copied byte for
 * byte from the OGC registry (2D-Tile-Matrix-Set registry/json) and served as they are: clients such as
 * OpenLayers and GDAL compare them with their own copies.
 */
export interface TileMatrix {
  id: string;
  scaleDenominator: number;
  cellSize: number;
  pointOfOrigin: [number, number];
  cornerOfOrigin?: 'topLeft' | 'bottomLeft';
  tileWidth: number;
  tileHeight: number;
  matrixWidth: number;
  matrixHeight: number;
}

export interface TileMatrixSet {
  id: string;
  title: string;
  uri: string;
  crs: string;
  orderedAxes: [string, string];
  wellKnownScaleSet?: string;
  tileMatrices: TileMatrix[];
}

export interface TileMatrixSetEntry {
  definition: TileMatrixSet;
  /** The registry file's exact bytes (served as the 2.0 JSON encoding). */
  json: string;
  /** CRS of the tile grids as the service names CRSs ("EPSG:n"); CRS84 is EPSG:4326 in lon/lat order. */
  gridCrs: 'EPSG:3857' | 'EPSG:4326';
  /** EPSG code URI as an OGC API tileset advertises it. */
  crsUri: string;
}

export const TILE_MATRIX_SET_IDS = ['WebMercatorQuad', 'WorldCRS84Quad'] as const;
export type TileMatrixSetId = (typeof TILE_MATRIX_SET_IDS)[number];

const GRID_CRS: Record<TileMatrixSetId, 'EPSG:3857' | 'EPSG:4326'> = {
  WebMercatorQuad: 'EPSG:3857',
  WorldCRS84Quad: 'EPSG:4326',
};

function load(id: TileMatrixSetId): TileMatrixSetEntry {
  const json = readFileSync(new URL(`./tms/${id}.json`, import.meta.url), 'utf8');
  const definition = JSON.parse(json) as TileMatrixSet;
  return { definition, json, gridCrs: GRID_CRS[id], crsUri: definition.crs };
}

/** Immutable registry data read once per process (static definitions, not service state). */
const REGISTRY: ReadonlyMap<string, TileMatrixSetEntry> = new Map(TILE_MATRIX_SET_IDS.map((id) => [id, load(id)]));

export function listTileMatrixSets(): TileMatrixSetEntry[] {
  return [...REGISTRY.values()];
}

/** The entry for an id (exact spelling, as in the registry), or a 404 the client can act on. */
export function getTileMatrixSet(id: string): TileMatrixSetEntry {
  const entry = REGISTRY.get(id);
  if (!entry) {
    throw notFound(`Unknown tile matrix set '${id}'. Available: ${TILE_MATRIX_SET_IDS.join(', ')}.`);
  }
  return entry;
}

export function findTileMatrix(tms: TileMatrixSet, tileMatrix: string): TileMatrix | undefined {
  return tms.tileMatrices.find((matrix) => matrix.id === tileMatrix);
}
