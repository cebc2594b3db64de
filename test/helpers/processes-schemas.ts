import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv04Module from 'ajv-draft-04';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { load as loadYaml } from 'js-yaml';

/**
 * The official OGC API - Processes 1.0 schemas (test/fixtures/ogc/ogcapi-processes, the files the OGC test suite
 * downloads from schemas.opengis.net) in ajv the way ../shared/docs/ogcapi.md 4.3 found necessary: draft-04 (schema.yaml
 * uses a boolean exclusiveMinimum), strict off (example, nullable), the non-standard formats url and dateTime.
 */
const DIR = fileURLToPath(new URL('../fixtures/ogc/ogcapi-processes/core/openapi/schemas/', import.meta.url));
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: unknown) => void;

export interface ProcessesSchemas {
  landingPage: ValidateFunction;
  confClasses: ValidateFunction;
  processList: ValidateFunction;
  process: ValidateFunction;
  statusInfo: ValidateFunction;
  jobList: ValidateFunction;
  results: ValidateFunction;
  exception: ValidateFunction;
}

let cache: ProcessesSchemas | undefined;

export function processesSchemas(): ProcessesSchemas {
  if (cache) return cache;
  // CommonJS with a default export: under NodeNext the class is on .default.
  const Ajv = ((Ajv04Module as unknown as { default?: unknown }).default ?? Ajv04Module) as new (options: object) => {
    addFormat(name: string, format: boolean): void;
    addSchema(schema: object, key: string): void;
    getSchema(key: string): unknown;
  };
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('url', true);
  ajv.addFormat('dateTime', true);
  for (const name of readdirSync(DIR).filter((file) => file.endsWith('.yaml'))) {
    ajv.addSchema(loadYaml(readFileSync(join(DIR, name), 'utf8')) as object, `file://${join(DIR, name)}`);
  }
  const get = (name: string) => {
    const validate = ajv.getSchema(`file://${join(DIR, name)}`);
    if (!validate) throw new Error(`schema not loaded: ${name}`);
    return validate as unknown as ValidateFunction;
  };
  cache = {
    landingPage: get('landingPage.yaml'),
    confClasses: get('confClasses.yaml'),
    processList: get('processList.yaml'),
    process: get('process.yaml'),
    statusInfo: get('statusInfo.yaml'),
    jobList: get('jobList.yaml'),
    results: get('results.yaml'),
    exception: get('exception.yaml'),
  };
  return cache;
}
