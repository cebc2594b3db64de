import { OgcError, type OgcErrorKind } from '../errors.js';
import type { JobException } from '../jobs/types.js';

/** The exception types OGC API - Processes names (the /1.0/ segment is kept by the 2.0 draft too). */
const BASE = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0';

export const noSuchProcess = (id: string, known: string[]) =>
  new OgcError('not-found', `No process '${id}'. Processes: ${known.join(', ')}.`, { type: `${BASE}/no-such-process`, title: 'No such process' });

export const noSuchJob = (id: string) =>
  new OgcError('not-found', `No job '${id}'. GET /jobs lists the jobs.`, { type: `${BASE}/no-such-job`, title: 'No such job' });

export const resultNotReady = (id: string, status: string) =>
  new OgcError('not-found', `The results of job ${id} are not ready: the job is ${status}. Poll /jobs/${id} until it is successful.`, {
    type: `${BASE}/result-not-ready`,
    title: 'Result not ready',
  });

export const resultsGone = (id: string) =>
  new OgcError('gone', `Job ${id} was dismissed; its results were removed.`, { type: `${BASE}/result-not-available`, title: 'Results removed' });

export const noSuchOutput = (id: string, output: string, known: string[]) =>
  new OgcError('bad-request', `Job ${id} has no output '${output}'. Its outputs: ${known.join(', ')}.`, { type: `${BASE}/no-such-output`, title: 'No such output' });

const KIND_OF_STATUS: Record<number, OgcErrorKind> = {
  400: 'bad-request',
  404: 'not-found',
  410: 'gone',
  413: 'payload-too-large',
  502: 'upstream',
  503: 'unavailable',
  504: 'upstream-timeout',
};

/** A failed job's stored exception, as the error its results answer with. */
export function errorOfJob(exception: JobException): OgcError {
  return new OgcError(KIND_OF_STATUS[exception.status] ?? 'internal', exception.detail, { type: exception.type, title: exception.title });
}
