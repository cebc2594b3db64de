import { createHash, randomUUID } from 'node:crypto';
import { isOgcError, OgcError } from '../errors.js';
import type { Logger } from '../logger.js';
import { JobRepository } from './repository.js';
import type { JobException, JobRecord, JobResults, ResultEntry } from './types.js';

/**
 * Runs jobs in this instance: a FIFO queue in front of at most `maxRunning` limited tasks (generation; echo
 * is not limited), one heartbeat timer for every job the instance holds (queued ones too, so an instance that
 * dies leaves no job "accepted" forever), progress writes at most once a second, and dismissal that aborts the
 * task's signal, here or, through the marker the heartbeat reads, on another instance.
 *
 * Order of writes for a successful job: result files, then results.json, then the status `successful`; a reader
 * that sees `successful` therefore finds every result. A failed or dismissed job's results are removed.
 * Timers exist only while jobs do, and close() stops everything (tests and SIGTERM).
 */
export interface RunningJob {
  readonly id: string;
  readonly signal: AbortSignal;
  /** 0..100; chips and message are shown in the status document. */
  progress(percent: number, detail?: { message?: string; chips?: JobRecord['chips'] }): void;
  /** Stores one result file atomically and returns its entry for the results document. */
  putFile(name: string, body: Uint8Array, mediaType: string): Promise<ResultEntry>;
}

export interface JobTask {
  /** Counts against maxRunning (queued past it). */
  limited: boolean;
  run(job: RunningJob): Promise<JobResults>;
}

export type JobInit = Pick<JobRecord, 'processID' | 'response' | 'outputs' | 'inputs'>;

export interface JobManagerOptions {
  maxRunning: number;
  maxQueued: number;
  heartbeatMs: number;
  staleMs: number;
  logger?: Logger;
}

/** Why a job's signal was aborted. */
export class JobAborted extends Error {
  constructor(readonly why: 'dismissed' | 'shutdown' | 'declared-dead') {
    super(`job ${why}`);
    this.name = 'JobAborted';
  }
}

interface LocalJob {
  record: JobRecord;
  task: JobTask;
  controller: AbortController;
  writes: Promise<void>;
  lastWrite: number;
  flush?: NodeJS.Timeout;
  started: boolean;
  settle: (record: JobRecord) => void;
  done: Promise<JobRecord>;
}

const PROGRESS_WRITE_MS = 1000;

export class JobManager {
  readonly instance = randomUUID();
  readonly repository: JobRepository;
  private readonly local = new Map<string, LocalJob>();
  private readonly queue: LocalJob[] = [];
  private runningLimited = 0;
  private heartbeat?: NodeJS.Timeout;
  private beating = false;
  private closed = false;

  constructor(
    store: JobRepository['store'],
    private readonly options: JobManagerOptions,
  ) {
    this.repository = new JobRepository(store, { staleMs: options.staleMs, holds: (id) => this.local.has(id) });
  }

  /** Jobs this instance runs and queues. */
  counts(): { running: number; queued: number } {
    return { running: this.local.size - this.queue.length, queued: this.queue.length };
  }

  /** Stores the job (so it exists before any response names it), then runs or queues it. */
  async submit(init: JobInit, task: JobTask): Promise<{ record: JobRecord; done: Promise<JobRecord> }> {
    if (this.closed) throw new OgcError('unavailable', 'This instance is shutting down; submit the job again.');
    if (task.limited && this.runningLimited >= this.options.maxRunning && this.queue.length >= this.options.maxQueued) {
      throw new OgcError(
        'unavailable',
        `${this.queue.length} jobs are already queued on this instance (JOBS_MAX_QUEUED = ${this.options.maxQueued}); submit the job again later.`,
        { headers: { 'retry-after': '30' } },
      );
    }
    const now = new Date().toISOString();
    const record: JobRecord = { ...init, jobID: this.repository.newJobId(), status: 'accepted', created: now, updated: now, instance: this.instance, progress: 0, message: 'Queued.' };
    await this.repository.save(record);
    let settle!: (record: JobRecord) => void;
    const done = new Promise<JobRecord>((resolve) => (settle = resolve));
    const job: LocalJob = { record, task, controller: new AbortController(), writes: Promise.resolve(), lastWrite: Date.now(), started: false, settle, done };
    this.local.set(record.jobID, job);
    this.startHeartbeat();
    if (!task.limited || this.runningLimited < this.options.maxRunning) void this.start(job);
    else this.queue.push(job);
    return { record: { ...record }, done };
  }

  /**
   * DELETE /jobs/{id}: a queued or running job stops (no more work is scheduled for it), a finished one loses
   * its results; either way its status becomes dismissed. Objects outside the job's folder are never touched.
   */
  async dismiss(id: string, message = 'Dismissed by a client (DELETE /jobs/{jobId}); its results were removed.'): Promise<JobRecord | undefined> {
    const record = await this.repository.read(id);
    if (!record || record.status === 'dismissed') return record;
    await this.repository.markDismissed(id);
    const now = new Date().toISOString();
    const dismissed: JobRecord = { ...record, status: 'dismissed', message, updated: now, finished: record.finished ?? now };
    const job = this.local.get(id);
    if (job) {
      job.record = dismissed;
      job.controller.abort(new JobAborted('dismissed'));
      const queued = this.queue.indexOf(job);
      if (queued >= 0) {
        this.queue.splice(queued, 1);
        this.finish(job);
      }
      await this.write(job);
    } else {
      await this.repository.save(dismissed);
    }
    await this.repository.removeResults(id);
    return dismissed;
  }

  /** Stops every job of this instance (recorded as failed: the instance stopped) and the timers. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopHeartbeat();
    for (const job of this.queue.splice(0)) {
      job.controller.abort(new JobAborted('shutdown'));
      job.record = this.failedRecord(job.record, stoppedException('before it started'));
      await this.write(job);
      this.finish(job);
    }
    for (const job of this.local.values()) job.controller.abort(new JobAborted('shutdown'));
    await Promise.all([...this.local.values()].map((job) => job.done));
  }

  private async start(job: LocalJob): Promise<void> {
    job.started = true;
    if (job.task.limited) this.runningLimited += 1;
    const id = job.record.jobID;
    const signal = job.controller.signal;
    try {
      const now = new Date().toISOString();
      job.record = { ...job.record, status: 'running', started: now, updated: now, message: 'Running.' };
      await this.write(job);
      const results = await job.task.run(this.context(job));
      signal.throwIfAborted();
      await this.repository.putResults(id, results);
      // Another instance may have dismissed the job or declared it dead meanwhile: that decision stands.
      const [stored, dismissed] = await Promise.all([this.repository.readRaw(id), this.repository.isDismissed(id)]);
      if (dismissed || stored?.status === 'dismissed' || stored?.status === 'failed') throw new JobAborted(dismissed ? 'dismissed' : 'declared-dead');
      const finished = new Date().toISOString();
      job.record = { ...job.record, status: 'successful', progress: 100, finished, updated: finished, message: 'Done.' };
      await this.write(job);
    } catch (error) {
      const why = signal.aborted ? (signal.reason as JobAborted).why : error instanceof JobAborted ? error.why : undefined;
      if (why === 'shutdown') job.record = this.failedRecord(job.record, stoppedException('while it ran'));
      else if (why === undefined) {
        if (!isOgcError(error) || error.status >= 500) this.options.logger?.error({ err: error, job: id }, 'job failed');
        job.record = this.failedRecord(job.record, exceptionOf(error));
      } else if (why === 'declared-dead' || why === 'dismissed') {
        job.record = (await this.repository.read(id)) ?? job.record;
      }
      if (why !== 'dismissed' && why !== 'declared-dead') await this.write(job);
      await this.repository.removeResults(id).catch((err) => this.options.logger?.warn({ err, job: id }, 'could not remove results'));
    } finally {
      if (job.task.limited) this.runningLimited -= 1;
      this.finish(job);
      this.pump();
    }
  }

  private context(job: LocalJob): RunningJob {
    return {
      id: job.record.jobID,
      signal: job.controller.signal,
      progress: (percent, detail = {}) => {
        if (job.controller.signal.aborted) return;
        const progress = Math.max(0, Math.min(100, Math.round(percent)));
        job.record = { ...job.record, progress, updated: new Date().toISOString(), ...(detail.message ? { message: detail.message } : {}), ...(detail.chips ? { chips: detail.chips } : {}) };
        this.writeSoon(job);
      },
      putFile: async (name, body, mediaType) => {
        job.controller.signal.throwIfAborted();
        await this.repository.putResultFile(job.record.jobID, name, body, mediaType);
        return { kind: 'file', name, mediaType, size: body.byteLength, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
      },
    };
  }

  /** Progress is written at most once a second; the last change is never lost (a one-shot flush). */
  private writeSoon(job: LocalJob): void {
    const wait = job.lastWrite + PROGRESS_WRITE_MS - Date.now();
    if (wait <= 0) {
      void this.write(job);
      return;
    }
    job.flush ??= setTimeout(() => {
      job.flush = undefined;
      void this.write(job);
    }, wait);
  }

  /** Writes are chained per job so a later state never lands before an earlier one. */
  private write(job: LocalJob): Promise<void> {
    if (job.flush) {
      clearTimeout(job.flush);
      job.flush = undefined;
    }
    job.lastWrite = Date.now();
    const snapshot = { ...job.record };
    job.writes = job.writes
      .then(() => this.repository.save(snapshot))
      .catch((err) => this.options.logger?.warn({ err, job: snapshot.jobID }, 'could not write job status'));
    return job.writes;
  }

  private finish(job: LocalJob): void {
    if (job.flush) clearTimeout(job.flush);
    job.flush = undefined;
    this.local.delete(job.record.jobID);
    if (this.local.size === 0) this.stopHeartbeat();
    void job.writes.then(() => job.settle({ ...job.record }));
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0 && this.runningLimited < this.options.maxRunning) void this.start(this.queue.shift()!);
  }

  private failedRecord(record: JobRecord, exception: JobException): JobRecord {
    const now = new Date().toISOString();
    return { ...record, status: 'failed', message: exception.detail, exception, finished: now, updated: now };
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Refreshes `updated` of every held job, and stops the ones dismissed or declared dead elsewhere. */
  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      for (const job of [...this.local.values()]) {
        const id = job.record.jobID;
        const [stored, dismissed] = await Promise.all([this.repository.readRaw(id), this.repository.isDismissed(id)]);
        if (!this.local.has(id) || job.controller.signal.aborted) continue;
        if (dismissed || stored?.status === 'dismissed') {
          job.controller.abort(new JobAborted('dismissed'));
          if (!job.started) this.dropQueued(job);
        } else if (stored?.status === 'failed') {
          job.controller.abort(new JobAborted('declared-dead'));
          if (!job.started) this.dropQueued(job);
        } else {
          job.record = { ...job.record, updated: new Date().toISOString() };
          await this.write(job);
        }
      }
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'job heartbeat failed');
    } finally {
      this.beating = false;
    }
  }

  private dropQueued(job: LocalJob): void {
    const index = this.queue.indexOf(job);
    if (index >= 0) this.queue.splice(index, 1);
    void this.repository.read(job.record.jobID).then((record) => {
      if (record) job.record = record;
      this.finish(job);
    });
  }
}

function exceptionOf(error: unknown): JobException {
  if (isOgcError(error)) return error.toJSON();
  return {
    type: 'http://www.opengis.net/def/exceptions/ogcapi-common-1/1.0/internal',
    title: 'Internal server error',
    status: 500,
    detail: 'The job failed on the server; the error is logged.',
  };
}

function stoppedException(when: string): JobException {
  return {
    type: 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/job-stopped',
    title: 'Job stopped',
    status: 500,
    detail: `The service instance stopped ${when}; submit the job again.`,
  };
}
