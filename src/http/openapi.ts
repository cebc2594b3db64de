import { TILE_MATRIX_SET_IDS } from '../grid/tms.js';
import { MODALITY_IDS, type Modality } from '../modalities.js';
import { renderParamsSchema } from '../render/index.js';
import { IMAGE_FORMATS, IMAGE_MEDIA_TYPES } from '../render/types.js';
import { SERVICE_TITLE } from '../ogc/common.js';
import { z } from 'zod';
import { GENERATION_PARAM_NAMES, generationParamsSchema } from '../generation/params.js';
import type { AppContext } from './context.js';
import { processesOpenApiPaths } from './processes-openapi.js';

/**
 * The OpenAPI 3.0 definition of this service. Built from the same constants the routes use (tile matrix
 * sets, modalities, formats) so it cannot drift on those; operationIds carry the OGC API - Tiles suffixes.
 */
type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/${name}` });

const exceptionResponses = {
  '400': ref('responses/BadRequest'),
  '404': ref('responses/NotFound'),
  '500': ref('responses/ServerError'),
};
const upstreamResponses = { '502': ref('responses/Upstream'), '504': ref('responses/UpstreamTimeout') };

function jsonOk(description: string, schema: Json = { type: 'object' }) {
  return { description, content: { 'application/json': { schema }, 'text/html': { schema: { type: 'string' } } } };
}

function operation(operationId: string, summary: string, tags: string[], parameters: Json[], responses: Json): Json {
  return { operationId, summary, tags, parameters, responses };
}

/** Render parameters of every modality's renderer (their zod schemas), merged by name for the query. */
function renderParameters(): Record<string, Json> {
  const byName = new Map<string, { modalities: Modality[]; description: string }>();
  for (const modality of MODALITY_IDS) {
    const shape = (renderParamsSchema(modality) as { shape?: Record<string, { description?: string }> }).shape ?? {};
    for (const [name, field] of Object.entries(shape)) {
      const entry = byName.get(name) ?? { modalities: [], description: field.description ?? '' };
      entry.modalities.push(modality);
      byName.set(name, entry);
    }
  }
  return Object.fromEntries(
    [...byName].map(([name, { modalities, description }]) => [
      `render-${name}`,
      { name, in: 'query', required: false, description: `Render parameter for ${modalities.join(', ')}${description ? `: ${description}` : ''}`, schema: { type: 'string' } },
    ]),
  );
}

/**
 * Query parameters of generated collections, from the same zod schema that validates them (src/generation/params.ts);
 * OpenAPI 3.0 wants one schema per parameter, and `thinking` travels comma-separated in a query.
 */
function generationParameters(ctx: Pick<AppContext, 'engine'>): Record<string, Json> {
  if (!ctx.engine) return {};
  const json = z.toJSONSchema(generationParamsSchema(ctx.engine.pkg), { io: 'input', target: 'openapi-3.0' }) as { properties: Record<string, Json & { description?: string }> };
  return Object.fromEntries(
    GENERATION_PARAM_NAMES.map((name) => {
      const { description, $schema: _schema, ...schema } = json.properties[name]! as Json & { description?: string; $schema?: string };
      const querySchema = name === 'thinking' ? { type: 'string', description: 'comma-separated modalities' } : schema;
      return [`generation-${name}`, { name, in: 'query', required: false, description: `Generated collections: ${description}`, schema: querySchema }];
    }),
  );
}

export function buildOpenApi(base: string, ctx: Pick<AppContext, 'collections' | 'engine'>): Json {
  const renderParams = renderParameters();
  const generationParams = generationParameters(ctx);
  const sourceParams = [
    ...MODALITY_IDS.map((modality) => ref(`parameters/source${modality}`)),
    ...Object.keys(renderParams).map((key) => ref(`parameters/${key}`)),
    ...Object.keys(generationParams).map((key) => ref(`parameters/${key}`)),
  ];
  const collectionParams = [ref('parameters/collectionId'), ...sourceParams];
  const tilesetParams = [...collectionParams, ref('parameters/tileMatrixSetId')];
  const documentParams = [ref('parameters/f-metadata')];
  const tiles = '/collections/{collectionId}/map/tiles';
  const coverage = '/collections/{collectionId}/coverage/tiles';
  return {
    openapi: '3.0.3',
    info: {
      title: SERVICE_TITLE,
      version: '0.1.0',
      description:
        'OGC API - Tiles over STAC items and GeoTIFFs for TerraMind modalities. Configured collections: ' +
        (ctx.collections.configured().map((c) => c.id).join(', ') || '(none)') +
        '. Any modality id is also an ad hoc collection whose source is the query parameter of the same name.',
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    servers: [{ url: base }],
    tags: [{ name: 'Capabilities' }, { name: 'Collections' }, { name: 'Tiles' }, { name: 'Tile matrix sets' }, { name: 'Operations' }, { name: 'Processes' }, { name: 'Jobs' }],
    paths: {
      '/': { get: operation('getLandingPage', 'Landing page', ['Capabilities'], documentParams, { '200': jsonOk('Landing page'), ...exceptionResponses }) },
      '/conformance': { get: operation('getConformance', 'Conformance classes', ['Capabilities'], documentParams, { '200': jsonOk('Conformance declaration'), ...exceptionResponses }) },
      '/api': {
        get: operation('getApi', 'This OpenAPI definition', ['Capabilities'], documentParams, {
          '200': { description: 'OpenAPI 3.0', content: { 'application/vnd.oai.openapi+json;version=3.0': { schema: { type: 'object' } } } },
          ...exceptionResponses,
        }),
      },
      '/collections': { get: operation('getCollections', 'Configured collections', ['Collections'], documentParams, { '200': jsonOk('Collections'), ...exceptionResponses }) },
      '/collections/{collectionId}': {
        get: operation('describeCollection', 'A collection (configured, or ad hoc by modality)', ['Collections'], [...collectionParams, ...documentParams], {
          '200': jsonOk('Collection'),
          ...exceptionResponses,
          ...upstreamResponses,
        }),
      },
      [tiles]: {
        get: operation('collection.map.getTileSetsList', 'Map tilesets of a collection', ['Tiles'], [...collectionParams, ...documentParams], {
          '200': jsonOk('Tilesets list'),
          ...exceptionResponses,
          ...upstreamResponses,
        }),
      },
      [`${tiles}/{tileMatrixSetId}`]: {
        get: operation('collection.map.getTileSet', 'Tileset metadata', ['Tiles'], [...tilesetParams, ...documentParams], {
          '200': jsonOk('Tileset metadata with tileMatrixSetLimits and templated tile links'),
          ...exceptionResponses,
          ...upstreamResponses,
        }),
      },
      [`${tiles}/{tileMatrixSetId}/tilejson.json`]: {
        get: operation('collection.map.getTileJson', 'TileJSON 3.0.0 (WebMercatorQuad)', ['Tiles'], tilesetParams, {
          '200': { description: 'TileJSON', content: { 'application/json': { schema: { type: 'object' } } } },
          ...exceptionResponses,
          ...upstreamResponses,
        }),
      },
      [`${tiles}/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}`]: {
        get: operation(
          'collection.map.getTile',
          'A map tile',
          ['Tiles'],
          [...tilesetParams, ref('parameters/tileMatrix'), ref('parameters/tileRow'), ref('parameters/tileCol'), ref('parameters/f-tile')],
          {
            '200': {
              description: 'The tile (a transparent image where the collection has no data)',
              headers: { ETag: { schema: { type: 'string' } }, 'X-Cache': { schema: { type: 'string', enum: ['hit', 'miss', 'bypass'] } } },
              content: Object.fromEntries(IMAGE_FORMATS.map((format) => [IMAGE_MEDIA_TYPES[format], { schema: { type: 'string', format: 'binary' } }])),
            },
            '304': { description: 'Not modified (If-None-Match)' },
            ...exceptionResponses,
            ...upstreamResponses,
          },
        ),
      },
      [coverage]: {
        get: operation('collection.coverage.getTileSetsList', 'Coverage tilesets of a collection', ['Tiles'], [...collectionParams, ...documentParams], {
          '200': jsonOk('Tilesets list (dataType coverage)'),
          ...exceptionResponses,
          ...upstreamResponses,
        }),
      },
      [`${coverage}/{tileMatrixSetId}`]: {
        get: operation('collection.coverage.getTileSet', 'Coverage tileset metadata', ['Tiles'], [...tilesetParams, ...documentParams], {
          '200': jsonOk('Tileset metadata with tileMatrixSetLimits and a templated GeoTIFF tile link'),
          ...exceptionResponses,
          ...upstreamResponses,
        }),
      },
      [`${coverage}/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}`]: {
        get: operation(
          'collection.coverage.getTile',
          'A coverage tile: the values as GeoTIFF float32 in physical units, NaN where there is no data',
          ['Tiles'],
          [...tilesetParams, ref('parameters/tileMatrix'), ref('parameters/tileRow'), ref('parameters/tileCol'), ref('parameters/f-coverage')],
          {
            '200': {
              description: 'The tile (all NaN where the collection has no data)',
              headers: { ETag: { schema: { type: 'string' } }, 'X-Cache': { schema: { type: 'string', enum: ['hit', 'miss', 'bypass'] } } },
              content: { 'image/tiff; application=geotiff': { schema: { type: 'string', format: 'binary' } } },
            },
            '304': { description: 'Not modified (If-None-Match)' },
            ...exceptionResponses,
            ...upstreamResponses,
          },
        ),
      },
      '/tileMatrixSets': { get: operation('getTileMatrixSetsList', 'Tile matrix sets', ['Tile matrix sets'], documentParams, { '200': jsonOk('Tile matrix sets'), ...exceptionResponses }) },
      '/tileMatrixSets/{tileMatrixSetId}': {
        get: operation('getTileMatrixSet', 'A tile matrix set (OGC TMS 2.0 JSON)', ['Tile matrix sets'], [ref('parameters/tileMatrixSetId'), ...documentParams], {
          '200': jsonOk('Tile matrix set definition'),
          ...exceptionResponses,
        }),
      },
      '/health': { get: operation('getHealth', 'Liveness', ['Operations'], [], { '200': { description: 'Alive', content: { 'application/json': { schema: { type: 'object' } } } } }) },
      '/ready': {
        get: operation('getReadiness', 'Readiness: 200 once the model is warm, 503 while starting or draining', ['Operations'], [], {
          '200': { description: 'Ready', content: { 'application/json': { schema: { type: 'object' } } } },
          '503': ref('responses/Unavailable'),
        }),
      },
      '/modalities': { get: operation('getModalities', 'Modalities with titles, units and map legends', ['Operations'], [], { '200': { description: 'Modalities', content: { 'application/json': { schema: { type: 'object' } } } } }) },
      '/metrics': { get: operation('getMetrics', 'Prometheus metrics', ['Operations'], [], { '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } }) },
      ...processesOpenApiPaths(),
    },
    components: {
      parameters: {
        collectionId: { name: 'collectionId', in: 'path', required: true, description: 'A configured collection id, or a modality id for an ad hoc collection', schema: { type: 'string' } },
        tileMatrixSetId: { name: 'tileMatrixSetId', in: 'path', required: true, schema: { type: 'string', enum: [...TILE_MATRIX_SET_IDS] } },
        tileMatrix: { name: 'tileMatrix', in: 'path', required: true, description: 'Tile matrix (zoom level) id', schema: { type: 'string', pattern: '^[0-9]+$' } },
        tileRow: { name: 'tileRow', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } },
        tileCol: { name: 'tileCol', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } },
        'f-metadata': { name: 'f', in: 'query', required: false, schema: { type: 'string', enum: ['json', 'html'] } },
        ...renderParams,
        ...generationParams,
        'f-coverage': { name: 'f', in: 'query', required: false, description: 'Coverage tile format: GeoTIFF only', schema: { type: 'string', enum: ['tiff'] } },
        'f-tile': { name: 'f', in: 'query', required: false, description: 'Tile format (default: Accept, then png)', schema: { type: 'string', enum: ['png', 'webp', 'jpeg', 'jpg'] } },
        ...Object.fromEntries(
          MODALITY_IDS.map((modality) => [
            `source${modality}`,
            {
              name: modality,
              in: 'query',
              required: false,
              description: `Source of the ad hoc collection ${modality} (a STAC item or GeoTIFF URL); required when collectionId is ${modality}`,
              schema: { type: 'string', format: 'uri' },
            },
          ]),
        ),
      },
      schemas: {
        exception: {
          type: 'object',
          required: ['type'],
          properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, instance: { type: 'string' } },
        },
      },
      responses: Object.fromEntries(
        [
          ['BadRequest', 'Malformed path or query value'],
          ['NotFound', 'Unknown collection or tile matrix set, or a tile outside the matrix or the collection limits'],
          ['ServerError', 'Server error'],
          ['Upstream', 'The source could not be read (unreachable, not a GeoTIFF, invalid STAC item)'],
          ['UpstreamTimeout', 'The source did not answer within the configured timeout'],
          ['Unavailable', 'Starting (model warming up) or shutting down'],
        ].map(([name, description]) => [name, { description, content: { 'application/json': { schema: ref('schemas/exception') } } }]),
      ),
    },
  };
}
