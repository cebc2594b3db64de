import { z } from 'zod';
import { PROCESSES_REL } from '../jobs/documents.js';
import { href, MEDIA, selfAndAlternate, type Link } from '../ogc/links.js';
import type { ProcessDefinition } from './types.js';

/**
 * Process summaries, descriptions and the process list (OGC Process Description class, 1.0 process.yaml).
 * Input schemas are generated from the zod schemas that validate execute requests, in the OpenAPI 3.0 dialect
 * that process.yaml's schema.yaml admits (boolean exclusiveMinimum, no const/$schema/$defs).
 */
export function processPath(id: string): string {
  return `/processes/${encodeURIComponent(id)}`;
}

/** JSON Schema of one zod input schema, as the execute request's value is written (defaults apply). */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

export function processSummary(base: string, process: ProcessDefinition) {
  return {
    id: process.id,
    version: process.version,
    title: process.title,
    description: process.description,
    keywords: process.keywords,
    jobControlOptions: process.jobControlOptions,
    outputTransmission: process.outputTransmission,
    links: selfAndAlternate(base, processPath(process.id), [], process.title),
  };
}

export function processDescription(base: string, process: ProcessDefinition) {
  const inputs = Object.fromEntries(
    Object.entries(process.inputs.shape).map(([id, field]) => {
      const schema = jsonSchemaOf(field as z.ZodType);
      const optional = (field as z.ZodType).safeParse(undefined).success;
      return [
        id,
        {
          title: process.inputTitles[id] ?? id,
          ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
          minOccurs: optional ? 0 : 1,
          maxOccurs: 1,
          schema,
        },
      ];
    }),
  );
  const outputs = Object.fromEntries(
    Object.entries(process.outputs).map(([id, output]) => [
      id,
      { title: output.title, ...(output.description ? { description: output.description } : {}), schema: output.schema },
    ]),
  );
  const execute: Link = { href: `${base}${processPath(process.id)}/execution`, rel: PROCESSES_REL.execute, type: MEDIA.json, title: `Execute ${process.id}` };
  return { ...processSummary(base, process), inputs, outputs, links: [...selfAndAlternate(base, processPath(process.id), [], process.title), execute] };
}

export function processListDocument(base: string, processes: ProcessDefinition[], page: { limit: number; offset: number }) {
  const shown = processes.slice(page.offset, page.offset + page.limit);
  const query: [string, string][] = [['limit', String(page.limit)], ...(page.offset ? ([['offset', String(page.offset)]] as [string, string][]) : [])];
  const links: Link[] = selfAndAlternate(base, '/processes', query, 'Processes');
  if (page.offset + page.limit < processes.length) {
    links.push({ href: href(base, '/processes', [['limit', String(page.limit)], ['offset', String(page.offset + page.limit)]]), rel: 'next', type: MEDIA.json, title: 'Next page' });
  }
  return { processes: shown.map((process) => processSummary(base, process)), links };
}
