import { Hono, type Context } from 'hono';
import { badRequest, notFound } from '../errors.js';
import { statusInfo } from '../jobs/documents.js';
import { processDescription, processListDocument } from '../processes/descriptions.js';
import { prefersAsync } from '../processes/execute-request.js';
import { availableProcesses } from '../processes/registry.js';
import { ProcessService } from '../processes/service.js';
import { definingRequest, virtualCollectionFinder, type VirtualCollection } from '../processes/virtual-collections.js';
import type { AppContext } from './context.js';
import { baseUrl } from './negotiate.js';
import { sendDocument } from './respond.js';
import { resultsResponse, type ResultSource } from './results.js';

/**
 * /processes, /processes/{id}, POST /processes/{id}/execution (?response=collection: collection output) and the
 * defining request of a collection output. Synchronous unless the client sends
 * `Prefer: respond-async` (then 201, an absolute Location and the statusInfo). No Link header on synchronous
 * answers: the 1.0 test suite then requires rel=monitor and follows it wrongly (../shared/docs/ogcapi.md Q7).
 */
export function processRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const processes = availableProcesses({
    engine: ctx.engine,
    repository: ctx.jobs.repository,
    maxChips: ctx.config.JOB_MAX_CHIPS,
    blockSize: ctx.config.COG_BLOCK_SIZE,
    sourceFor: (modality, href) => ctx.collections.sourceFor(modality, href),
  });
  const service = new ProcessService({ jobs: ctx.jobs, fetch: ctx.fetch, processes });
  const findVirtualCollection = virtualCollectionFinder(ctx.jobs.repository);
  const base = (c: Context) => baseUrl(c, ctx.config.PUBLIC_URL);

  app.get('/', (c) => {
    const limit = intParam(c.req.query('limit'), 'limit', 10, 1, 10_000);
    const offset = intParam(c.req.query('offset'), 'offset', 0, 0, 1_000_000);
    return sendDocument(c, 'Processes', processListDocument(base(c), service.list(), { limit, offset }));
  });

  app.get('/:processId', (c) => {
    const process = service.get(c.req.param('processId'));
    return sendDocument(c, process.title, processDescription(base(c), process));
  });

  app.post('/:processId/execution', async (c) => {
    const id = c.req.param('processId');
    service.get(id);
    const body = await jsonBody(c);
    if (c.req.query('response') === 'collection') return collectionOutput(c, await service.collections(id, body, c.req.raw.signal));
    if (c.req.query('response') !== undefined) throw badRequest(`response=${c.req.query('response')}: the only query value is response=collection (results as a collection); set "response" in the body for raw or document.`);
    const execution = await service.execute(id, body, { async: prefersAsync(c.req.header('prefer')), signal: c.req.raw.signal });
    if (execution.mode === 'async') {
      const document = statusInfo(base(c), execution.record);
      return c.body(JSON.stringify(document), 201, {
        'content-type': 'application/json',
        location: `${base(c)}/jobs/${encodeURIComponent(execution.record.jobID)}`,
        'preference-applied': 'respond-async',
        'cache-control': 'no-store',
      });
    }
    return resultsResponse(resultSource(ctx, base(c)), execution.record, execution.results);
  });

  // The canonical execute request of a collection output (its collection links here with rel workflow).
  app.get('/:processId/workflows/:collectionId', async (c) => {
    service.get(c.req.param('processId'));
    const id = c.req.param('collectionId');
    const found = await findVirtualCollection(id);
    if (!found) throw notFound(`No collection output '${id}' of process ${c.req.param('processId')}.`);
    return c.body(JSON.stringify(definingRequest(found)), 200, { 'content-type': 'application/json' });
  });

  /** One output: 303 to its collection; several: a document linking one collection per output. */
  const collectionOutput = (c: Context, collections: VirtualCollection[]): Response => {
    const href = (collection: VirtualCollection) => `${base(c)}/collections/${encodeURIComponent(collection.id)}`;
    if (collections.length === 1) {
      const location = href(collections[0]);
      return c.body(JSON.stringify({ links: [{ href: location, rel: 'http://www.opengis.net/def/rel/ogc/1.0/collection', type: 'application/json', title: collections[0].output }] }), 303, {
        location,
        'content-type': 'application/json',
      });
    }
    const document = Object.fromEntries(collections.map((collection) => [collection.output, { href: href(collection), type: 'application/json', title: `${collection.output} (collection)` }]));
    return c.body(JSON.stringify(document), 200, { 'content-type': 'application/json' });
  };

  return app;
}

export function resultSource(ctx: AppContext, base: string): ResultSource {
  const store = ctx.jobs.repository.store;
  return {
    base,
    store,
    resultKey: (jobId, name) => ctx.jobs.repository.resultKey(jobId, name),
    presignSeconds: ctx.config.RESULTS_PRESIGN && store.presignGet ? ctx.config.RESULTS_PRESIGN_SECONDS : undefined,
  };
}

export function intParam(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || parsed < min || parsed > max) throw badRequest(`${name}=${value}: give an integer from ${min} to ${max}.`);
  return parsed;
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.length > 1_000_000) throw badRequest('The execute request is larger than 1 MB.');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`The execute request is not JSON: ${(error as Error).message}. Send {"inputs": {...}} with Content-Type: application/json.`);
  }
}
