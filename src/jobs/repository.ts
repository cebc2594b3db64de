import { randomBytes } from 'node:crypto';
import type { ObjectStore } from './object-store.js';
import type { JobRecord, JobResults, JobStatus } from './types.js';

/**
 * Jobs in an object store, readable from any instance:
 *
 *   jobs/<id>/status.json     the JobRecord, rewritten on every change and heartbeat
 *   jobs/<id>/dismissed       written once by DELETE /jobs/{id}; wins over any later status write
 *   jobs/<id>/results.json    written after every result file and before the status says successful
 *   jobs/<id>/results/<file>  result files (COGs)
 *
 * Job ids start with the inverted creation time, so the store's ascending key order lists the newest job
 * first and a page of /jobs reads only the documents it shows. A job that is accepted or running but whose
 * heartbeat is older than `staleMs` belongs to an instance that died: reading it reports it failed (and
 * records that), unless this instance still holds it.
 */
const TIME_BASE = 1e16;
const ID = /^[0-9a-z]{11}-[0-9a-f]{12}$/;

export interface JobListFilter {
  processIDs?: string[];
  statuses?: JobStatus[];
  /** Creation time bounds (ms); either may be open. */
  createdFrom?: number;
  createdTo?: number;
  minDuration?: number;
  maxDuration?: number;
}

export interface JobRepositoryOptions {
  staleMs: number;
  /** Whether this instance runs or queues the job (then it is alive whatever its last heartbeat). */
  holds?: (jobId: string) => boolean;
  now?: () => number;
}

export class JobRepository {
  constructor(
    readonly store: ObjectStore,
    private readonly options: JobRepositoryOptions,
  ) {}

  newJobId(now = this.now()): string {
    return `${(TIME_BASE - now).toString(36).padStart(11, '0')}-${randomBytes(6).toString('hex')}`;
  }

  isJobId(id: string): boolean {
    return ID.test(id);
  }

  async save(record: JobRecord): Promise<void> {
    await this.store.put(statusKey(record.jobID), encode(record), 'application/json');
  }

  /** The stored record as written, without the dismissal marker or staleness applied. */
  async readRaw(id: string): Promise<JobRecord | undefined> {
    if (!this.isJobId(id)) return undefined;
    const object = await this.store.get(statusKey(id));
    return object && (JSON.parse(new TextDecoder().decode(object.body)) as JobRecord);
  }

  /** The job as clients see it: dismissed once the marker exists; failed once its heartbeat is stale. */
  async read(id: string): Promise<JobRecord | undefined> {
    const [record, dismissed] = await Promise.all([this.readRaw(id), this.isDismissed(id)]);
    if (!record) return undefined;
    if (dismissed && record.status !== 'dismissed') return { ...record, status: 'dismissed', message: record.message ?? 'Dismissed.' };
    if ((record.status === 'accepted' || record.status === 'running') && !this.options.holds?.(id)) {
      const silentMs = this.now() - Date.parse(record.updated);
      if (silentMs > this.options.staleMs) return this.failStale(record);
    }
    return record;
  }

  async isDismissed(id: string): Promise<boolean> {
    return (await this.store.head(`jobs/${id}/dismissed`)) !== undefined;
  }

  async markDismissed(id: string): Promise<void> {
    await this.store.put(`jobs/${id}/dismissed`, new Uint8Array(0), 'text/plain');
  }

  async putResultFile(id: string, name: string, body: Uint8Array, mediaType: string): Promise<void> {
    await this.store.put(`jobs/${id}/results/${name}`, body, mediaType);
  }

  async putResults(id: string, results: JobResults): Promise<void> {
    await this.store.put(`jobs/${id}/results.json`, encode(results), 'application/json');
  }

  async readResults(id: string): Promise<JobResults | undefined> {
    const object = await this.store.get(`jobs/${id}/results.json`);
    return object && (JSON.parse(new TextDecoder().decode(object.body)) as JobResults);
  }

  resultKey(id: string, name: string): string {
    return `jobs/${id}/results/${name}`;
  }

  /** Result files and the results document; the status document and the dismissal marker stay. */
  async removeResults(id: string): Promise<void> {
    await this.store.delete(`jobs/${id}/results.json`);
    await this.store.deletePrefix(`jobs/${id}/results/`);
  }

  /**
   * A page of jobs, newest first, after the job id `cursor`. With filters, at most `scanLimit` documents are read
   * per page; `next` is the cursor of the following page (undefined at the end).
   */
  async list(filter: JobListFilter, page: { limit: number; cursor?: string; scanLimit?: number }): Promise<{ jobs: JobRecord[]; next?: string }> {
    const jobs: JobRecord[] = [];
    const scanLimit = page.scanLimit ?? Math.max(1000, page.limit * 10);
    let cursor = page.cursor;
    let scanned = 0;
    while (jobs.length < page.limit && scanned < scanLimit) {
      const batch = Math.min(Math.max(page.limit - jobs.length, 25), 1000);
      const ids = (await this.store.listChildren('jobs/', { after: cursor, limit: batch })).filter((id) => this.isJobId(id));
      if (ids.length === 0) return { jobs };
      for (const id of ids) {
        scanned += 1;
        cursor = id;
        const created = createdAt(id);
        // Newest first: once past the lower bound nothing later in the listing can match.
        if (filter.createdFrom !== undefined && created < filter.createdFrom) return { jobs };
        if (filter.createdTo !== undefined && created > filter.createdTo) continue;
        const record = await this.read(id);
        if (record && matches(record, filter, this.now())) jobs.push(record);
        if (jobs.length === page.limit) break;
      }
    }
    const more = (await this.store.listChildren('jobs/', { after: cursor, limit: 1 })).length > 0;
    return { jobs, next: more ? cursor : undefined };
  }

  async putCollection(id: string, definition: unknown): Promise<void> {
    await this.store.put(`collections/${id}.json`, encode(definition), 'application/json');
  }

  async getCollection(id: string): Promise<unknown | undefined> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) return undefined;
    const object = await this.store.get(`collections/${id}.json`);
    return object && JSON.parse(new TextDecoder().decode(object.body));
  }

  private async failStale(record: JobRecord): Promise<JobRecord> {
    const now = new Date(this.now()).toISOString();
    const detail =
      `The service instance running this job stopped sending heartbeats at ${record.updated} (its process ended or was killed), ` +
      'so the job did not finish; its partial results were removed. Submit the job again.';
    const failed: JobRecord = {
      ...record,
      status: 'failed',
      message: detail,
      finished: now,
      updated: now,
      exception: { type: 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/job-stopped', title: 'Job stopped', status: 500, detail },
    };
    await this.removeResults(record.jobID);
    await this.save(failed);
    return failed;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

/** Creation time (ms) encoded in a job id. */
export function createdAt(id: string): number {
  return TIME_BASE - parseInt(id.slice(0, 11), 36);
}

function statusKey(id: string): string {
  return `jobs/${id}/status.json`;
}

function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function matches(record: JobRecord, filter: JobListFilter, now: number): boolean {
  if (filter.processIDs && !filter.processIDs.includes(record.processID)) return false;
  if (filter.statuses && !filter.statuses.includes(record.status)) return false;
  if (filter.minDuration !== undefined || filter.maxDuration !== undefined) {
    if (!record.started) return false;
    const seconds = ((record.finished ? Date.parse(record.finished) : now) - Date.parse(record.started)) / 1000;
    if (filter.minDuration !== undefined && seconds < filter.minDuration) return false;
    if (filter.maxDuration !== undefined && seconds > filter.maxDuration) return false;
  }
  return true;
}

