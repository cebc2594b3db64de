import { badRequest, OgcError } from '../errors.js';
import type { JobManager } from '../jobs/manager.js';
import type { JobRecord, JobResults } from '../jobs/types.js';
import type { GuardedFetch } from '../net/types.js';
import { errorOfJob, noSuchProcess, resultsGone } from './errors.js';
import { parseExecuteRequest, validateInputs } from './execute-request.js';
import type { ProcessDefinition } from './types.js';
import type { VirtualCollection } from './virtual-collections.js';

/**
 * Execution of any process: the execute request is parsed, the inputs validated and the execution prepared
 * before a job exists (so bad input is a 400 that leaves nothing in the job store), then the job is submitted.
 * Asynchronous: the caller answers 201 at once. Synchronous: the caller waits for the job; a client that goes
 * away dismisses it, so its chips stop being scheduled.
 */
export type Execution = { mode: 'async'; record: JobRecord } | { mode: 'sync'; record: JobRecord; results: JobResults };

export interface ProcessServiceDeps {
  jobs: JobManager;
  fetch: GuardedFetch;
  processes: ProcessDefinition[];
}

export class ProcessService {
  constructor(private readonly deps: ProcessServiceDeps) {}

  list(): ProcessDefinition[] {
    return this.deps.processes;
  }

  get(id: string): ProcessDefinition {
    const process = this.deps.processes.find((candidate) => candidate.id === id);
    if (!process) throw noSuchProcess(id, this.deps.processes.map((p) => p.id));
    return process;
  }

  /** ?response=collection: validates the request, checks the sources, stores one virtual collection per output. */
  async collections(id: string, body: unknown, signal?: AbortSignal): Promise<VirtualCollection[]> {
    const process = this.get(id);
    if (!process.collections) throw badRequest(`Process ${id} has no collection output: leave out response=collection.`);
    const request = parseExecuteRequest(body, process);
    const values = await validateInputs(process, request.inputs, this.deps.fetch, signal);
    return process.collections(values, request.outputs.map((output) => output.id), request.outputsNamed, signal);
  }

  async execute(id: string, body: unknown, options: { async: boolean; signal?: AbortSignal }): Promise<Execution> {
    const process = this.get(id);
    const request = parseExecuteRequest(body, process);
    const values = await validateInputs(process, request.inputs, this.deps.fetch, options.signal);
    const prepared = await process.prepare(values, request.outputs.map((output) => output.id), options.signal, request.outputsNamed);
    const outputs = prepared.outputs ? request.outputs.filter((output) => prepared.outputs!.includes(output.id)) : request.outputs;
    const { record, done } = await this.deps.jobs.submit(
      { processID: process.id, response: request.response, outputs, inputs: prepared.inputs },
      { limited: process.limited, run: prepared.run },
    );
    if (options.async) return { mode: 'async', record };

    const onAbort = () => void this.deps.jobs.dismiss(record.jobID, 'Dismissed: the client of the synchronous execution disconnected.');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let final: JobRecord;
    try {
      final = await done;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (final.status === 'failed' && final.exception) throw errorOfJob(final.exception);
    if (final.status === 'dismissed') throw resultsGone(final.jobID);
    const results = await this.deps.jobs.repository.readResults(final.jobID);
    if (final.status !== 'successful' || !results) throw new OgcError('internal', `Job ${final.jobID} ended ${final.status} without results.`);
    return { mode: 'sync', record: final, results };
  }
}
