import { href, MEDIA, selfAndAlternate, type Link, type QueryPairs } from '../ogc/links.js';
import type { JobRecord } from './types.js';

/**
 * statusInfo and job list documents (OGC API - Processes 1.0 statusInfo.yaml / jobList.yaml). Each status
 * carries the 1.0 keys (jobID, type "process") and the 2.0 draft's (id, processingEntityType), and only the
 * dates that are set: the 1.0 test suite rejects null.
 */
export const PROCESSES_REL = {
  results: 'http://www.opengis.net/def/rel/ogc/1.0/results',
  exceptions: 'http://www.opengis.net/def/rel/ogc/1.0/exceptions',
  jobList: 'http://www.opengis.net/def/rel/ogc/1.0/job-list',
  processes: 'http://www.opengis.net/def/rel/ogc/1.0/processes',
  execute: 'http://www.opengis.net/def/rel/ogc/1.0/execute',
  process: 'http://www.opengis.net/def/rel/ogc/1.0/process',
} as const;

export function jobPath(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}

export function statusInfo(base: string, record: JobRecord) {
  const path = jobPath(record.jobID);
  const links: Link[] = [
    ...selfAndAlternate(base, path, [], `Job ${record.jobID}`),
    { href: `${base}${path}`, rel: 'monitor', type: MEDIA.json, title: 'Job status' },
    { href: `${base}/jobs`, rel: 'up', type: MEDIA.json, title: 'All jobs' },
    { href: `${base}/processes/${encodeURIComponent(record.processID)}`, rel: PROCESSES_REL.process, type: MEDIA.json, title: `Process ${record.processID}` },
  ];
  if (record.status === 'successful') links.push({ href: `${base}${path}/results`, rel: PROCESSES_REL.results, type: MEDIA.json, title: 'Results' });
  if (record.status === 'failed') links.push({ href: `${base}${path}/results`, rel: PROCESSES_REL.exceptions, type: MEDIA.json, title: 'Why the job failed' });
  return {
    type: 'process' as const,
    jobID: record.jobID,
    id: record.jobID,
    processingEntityType: 'ogc-api-processes',
    processID: record.processID,
    status: record.status,
    ...(record.message !== undefined ? { message: record.message } : {}),
    ...(record.progress !== undefined ? { progress: record.progress } : {}),
    created: record.created,
    ...(record.started ? { started: record.started } : {}),
    ...(record.finished ? { finished: record.finished } : {}),
    updated: record.updated,
    ...(record.chips ? { chips: record.chips } : {}),
    ...(record.exception ? { exception: record.exception } : {}),
    links,
  };
}

export function jobListDocument(base: string, records: JobRecord[], query: QueryPairs, next?: QueryPairs) {
  const links: Link[] = selfAndAlternate(base, '/jobs', query, 'Jobs');
  if (next) links.push({ href: href(base, '/jobs', next), rel: 'next', type: MEDIA.json, title: 'Next page' });
  return { jobs: records.map((record) => statusInfo(base, record)), links };
}
