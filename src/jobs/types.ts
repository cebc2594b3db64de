/**
 * A job as stored (jobs/<id>/status.json): the OGC statusInfo fields plus what the service needs to answer for
 * the job from any instance: which outputs were asked for and how (so GET /jobs/{id}/results answers as the
 * synchronous execution would have), the failure as an exception, and the instance whose heartbeat keeps it alive.
 */
export type JobStatus = 'accepted' | 'running' | 'successful' | 'failed' | 'dismissed';

export const JOB_STATUSES: readonly JobStatus[] = ['accepted', 'running', 'successful', 'failed', 'dismissed'];

export type TransmissionMode = 'value' | 'reference';

export interface JobException {
  type: string;
  title: string;
  status: number;
  detail: string;
}

export interface JobRecord {
  jobID: string;
  processID: string;
  status: JobStatus;
  message?: string;
  /** 0..100. */
  progress?: number;
  created: string;
  started?: string;
  finished?: string;
  /** Last change or heartbeat. */
  updated: string;
  /** The instance that runs (or queues) the job and heartbeats it. */
  instance: string;
  /** raw or document, as in the execute request (1.0). */
  response: 'raw' | 'document';
  /** The outputs asked for, in order, with their transmission mode. */
  outputs: { id: string; transmissionMode: TransmissionMode }[];
  /** The execute request's inputs after validation (what the job ran on). */
  inputs: Record<string, unknown>;
  exception?: JobException;
  /** Chip accounting of generation jobs (done of total, generated, taken from the cache). */
  chips?: { done: number; total: number; generated: number; cached: number };
}

/** One output of a finished job: an inline value, or a file in the job's folder. */
export type ResultEntry =
  | { kind: 'value'; value: unknown; mediaType: string }
  | { kind: 'file'; name: string; mediaType: string; size: number; etag: string };

export interface JobResults {
  outputs: Record<string, ResultEntry>;
}
