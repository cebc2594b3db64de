import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';
import { load as loadYaml } from 'js-yaml';

/**
 * The official schemas (copied under test/fixtures/ogc, see SOURCES.md) loaded into ajv the way the OGC test
 * suites use them: every file registered under its file:// URL so relative $refs resolve. Tiles building
 * blocks are OpenAPI 3.0 schema objects (draft-07 ajv, strict off for `example`/`nullable`); TMS 2.0 are
 * draft 2019-09 JSON Schemas.
 */
const ROOT = fileURLToPath(new URL('../fixtures/ogc/', import.meta.url));
const TILES = join(ROOT, 'ogcapi-tiles/openapi/schemas');
const TMS2 = join(ROOT, '2D-Tile-Matrix-Set/schemas/tms/2.0/json');

// ajv-formats is CommonJS with a default export; under NodeNext its callable is on .default.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv | Ajv2019) => void;

function files(dir: string, extension: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, extension);
    return name.endsWith(extension) ? [path] : [];
  });
}

function tilesAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('integer', true);
  for (const path of files(TILES, '.yaml')) {
    // dynamic/* point at files outside the building blocks (server-generated enumerations).
    if (path.includes('/dynamic/')) continue;
    const schema = loadYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
    // A few fragments (projJSON) declare draft 2019-09 and a foreign $id; as OpenAPI fragments they are neither.
    delete schema.$schema;
    delete schema.$id;
    // extent-uad.yaml puts `additionalProperties` in an allOf branch that does not list `spatial`/`temporal`, so
    // under JSON Schema semantics every real extent fails it (a schema bug, not a server one): use extent.yaml.
    if (path.endsWith('common-geodata/collectionInfo.yaml')) {
      (schema.properties as Record<string, unknown>).extent = { $ref: 'extent.yaml' };
    }
    ajv.addSchema(schema, `file://${path}`);
  }
  return ajv;
}

function tms2Ajv(): Ajv2019 {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const path of files(TMS2, '.json')) {
    const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    // projJSON.json carries a proj.org $id; register everything under its file URL only.
    delete schema.$id;
    ajv.addSchema(schema, `file://${path}`);
  }
  return ajv;
}

let cache: OgcSchemas | undefined;

export interface OgcSchemas {
  landingPage: ValidateFunction;
  confClasses: ValidateFunction;
  exception: ValidateFunction;
  collections: ValidateFunction;
  collectionInfo: ValidateFunction;
  tileSet: ValidateFunction;
  tileSetItem: ValidateFunction;
  tileMatrixSetItem: ValidateFunction;
  tileMatrixSetYaml: ValidateFunction;
  /** TMS 2.0 JSON Schemas (draft 2019-09). */
  tileMatrixSet2: ValidateFunction;
  tileSet2: ValidateFunction;
  tileJson: ValidateFunction;
}

export function ogcSchemas(): OgcSchemas {
  if (cache) return cache;
  const tiles = tilesAjv();
  const tms = tms2Ajv();
  const get = (ajv: Ajv | Ajv2019, path: string) => {
    const validate = ajv.getSchema(`file://${path}`);
    if (!validate) throw new Error(`schema not loaded: ${path}`);
    return validate;
  };
  const tileJsonAjv = new Ajv({ strict: false, allErrors: true });
  addFormats(tileJsonAjv);
  cache = {
    landingPage: get(tiles, join(TILES, 'common-core/landingPage.yaml')),
    confClasses: get(tiles, join(TILES, 'common-core/confClasses.yaml')),
    exception: get(tiles, join(TILES, 'common-core/exception.yaml')),
    collections: get(tiles, join(TILES, 'common-geodata/collections.yaml')),
    collectionInfo: get(tiles, join(TILES, 'common-geodata/collectionInfo.yaml')),
    tileSet: get(tiles, join(TILES, 'tms/tileSet.yaml')),
    tileSetItem: get(tiles, join(TILES, 'tms/tileSet-item.yaml')),
    tileMatrixSetItem: get(tiles, join(TILES, 'tms/tileMatrixSet-item.yaml')),
    tileMatrixSetYaml: get(tiles, join(TILES, 'tms/tileMatrixSet.yaml')),
    tileMatrixSet2: get(tms, join(TMS2, 'tileMatrixSet.json')),
    tileSet2: get(tms, join(TMS2, 'tileSet.json')),
    tileJson: tileJsonAjv.compile(JSON.parse(readFileSync(join(ROOT, 'tilejson-spec/3.0.0/schema.json'), 'utf8'))),
  };
  return cache;
}

/** Asserts a document against a schema with a readable message listing ajv's errors. */
export function expectValid(validate: ValidateFunction, document: unknown, what = 'document'): void {
  if (!validate(document)) {
    throw new Error(`${what} is not valid: ${JSON.stringify(validate.errors?.slice(0, 8), null, 2)}`);
  }
}
