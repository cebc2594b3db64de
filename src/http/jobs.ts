import { Hono, type Context } from 'hono';
import { badRequest } from '../errors.js';
import { jobListDocument, statusInfo } from '../jobs/documents.js';
import type { JobListFilter } from '../jobs/repository.js';
import { JOB_STATUSES, type JobRecord, type JobStatus } from '../jobs/types.js';
import { errorOfJob, noSuchJob, resultNotReady, resultsGone } from '../processes/errors.js';
import { requireApiKey } from './auth.js';
import type { AppContext } from './context.js';
import { baseUrl } from './negotiate.js';
import { sendDocument } from './respond.js';
import { intParam, resultSource } from './processes.js';
import { outputResponse, resultsResponse } from './results.js';

/**
 * /jobs (Job list class: limit, cursor paging, type/processID/status/datetime/duration filters), /jobs/{id},
 * DELETE /jobs/{id} (Dismiss class), /jobs/{id}/results and, per output, /jobs/{id}/results/{output}.
 * Job documents change: every answer is Cache-Control no-store.
 */
export function jobRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const base = (c: Context) => baseUrl(c, ctx.config.PUBLIC_URL);
  const load = async (c: Context): Promise<JobRecord> => {
    const id = c.req.param('jobId') ?? '';
    const record = await ctx.jobs.repository.read(id);
    if (!record) throw noSuchJob(id);
    return record;
  };
  app.use('*', async (c, next) => {
    await next();
    c.res.headers.set('cache-control', c.res.headers.get('cache-control') ?? 'no-store');
  });

  app.get('/', async (c) => {
    const { filter, limit, cursor, query } = listQuery(c);
    const { jobs, next } = filter ? await ctx.jobs.repository.list(filter, { limit, cursor }) : { jobs: [], next: undefined };
    const nextQuery = next ? [...query.filter(([key]) => key !== 'cursor'), ['cursor', next] as [string, string]] : undefined;
    return sendDocument(c, 'Jobs', jobListDocument(base(c), jobs, query, nextQuery));
  });

  app.get('/:jobId', async (c) => {
    const record = await load(c);
    return sendDocument(c, `Job ${record.jobID}`, statusInfo(base(c), record));
  });

  app.delete('/:jobId', async (c) => {
    // Dismissing stops someone's work: with API_KEYS it needs a key, as executing does.
    requireApiKey(c, ctx.config, 'Dismissing a job');
    const id = c.req.param('jobId');
    const record = await ctx.jobs.dismiss(id);
    if (!record) throw noSuchJob(id);
    return c.body(JSON.stringify(statusInfo(base(c), record)), 200, { 'content-type': 'application/json' });
  });

  app.get('/:jobId/results', async (c) => {
    const record = await load(c);
    return resultsResponse(resultSource(ctx, base(c)), record, await finishedResults(ctx, record));
  });

  app.get('/:jobId/results/:outputId', async (c) => {
    const record = await load(c);
    const results = await finishedResults(ctx, record);
    return outputResponse(resultSource(ctx, base(c)), record, results, c.req.param('outputId'), { range: c.req.header('range'), head: c.req.method === 'HEAD' });
  });

  return app;
}

async function finishedResults(ctx: AppContext, record: JobRecord) {
  if (record.status === 'accepted' || record.status === 'running') throw resultNotReady(record.jobID, record.status);
  if (record.status === 'dismissed') throw resultsGone(record.jobID);
  if (record.status === 'failed') throw errorOfJob(record.exception ?? { type: 'about:blank', title: 'Job failed', status: 500, detail: record.message ?? 'The job failed.' });
  const results = await ctx.jobs.repository.readResults(record.jobID);
  if (!results) throw resultNotReady(record.jobID, record.status);
  return results;
}

/** The job list query; filter undefined when a filter can match nothing (type other than "process"). */
function listQuery(c: Context): { filter?: JobListFilter; limit: number; cursor?: string; query: [string, string][] } {
  const all = (name: string) => (c.req.queries(name) ?? []).flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  const limit = intParam(c.req.query('limit'), 'limit', 10, 1, 10_000);
  const cursor = c.req.query('cursor');
  const query: [string, string][] = [];
  for (const name of ['type', 'processID', 'status', 'datetime', 'minDuration', 'maxDuration', 'cursor']) {
    for (const value of c.req.queries(name) ?? []) query.push([name, value]);
  }
  query.push(['limit', String(limit)]);
  const statuses = all('status');
  for (const status of statuses) if (!(JOB_STATUSES as readonly string[]).includes(status)) throw badRequest(`status=${status}: use ${JOB_STATUSES.join(', ')}.`);
  const types = all('type');
  const filter: JobListFilter = {
    ...(all('processID').length ? { processIDs: all('processID') } : {}),
    ...(statuses.length ? { statuses: statuses as JobStatus[] } : {}),
    ...datetimeFilter(c.req.query('datetime')),
    ...(c.req.query('minDuration') !== undefined ? { minDuration: intParam(c.req.query('minDuration'), 'minDuration', 0, 0, 1e9) } : {}),
    ...(c.req.query('maxDuration') !== undefined ? { maxDuration: intParam(c.req.query('maxDuration'), 'maxDuration', 0, 0, 1e9) } : {}),
  };
  return { filter: types.length && !types.includes('process') ? undefined : filter, limit, cursor, query };
}

/** datetime: an instant or an interval a/b with open ends (.. or empty), against the jobs' creation time. */
function datetimeFilter(value: string | undefined): Pick<JobListFilter, 'createdFrom' | 'createdTo'> {
  if (value === undefined) return {};
  const time = (text: string, end: 'from' | 'to') => {
    if (text === '' || text === '..') return undefined;
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw badRequest(`datetime=${value}: '${text}' is not an RFC 3339 date-time; use an instant or an interval start/end (.. for open).`);
    return end === 'to' && !text.includes('T') ? ms + 86_399_999 : ms;
  };
  const parts = value.split('/');
  if (parts.length === 1) {
    const at = time(parts[0], 'from');
    return { createdFrom: at, createdTo: at };
  }
  if (parts.length !== 2) throw badRequest(`datetime=${value}: use an instant or an interval start/end.`);
  return { createdFrom: time(parts[0], 'from'), createdTo: time(parts[1], 'to') };
}
