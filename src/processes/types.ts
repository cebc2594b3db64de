import type { z } from 'zod';
import type { RunningJob } from '../jobs/manager.js';
import type { JobResults, TransmissionMode } from '../jobs/types.js';
import type { VirtualCollection } from './virtual-collections.js';

/**
 * A process of this service: its description (inputs as one zod object, the same schema that validates execute
 * requests and, through z.toJSONSchema, documents them), and how an execution is prepared (checks that need
 * more than the schema, e.g. opening the sources) and run as a job.
 */
export type JobControlOption = 'sync-execute' | 'async-execute' | 'dismiss';

export interface OutputSpec {
  title: string;
  description?: string;
  /** The media type of a value of this output (raw responses, files). */
  mediaType: string;
  /** JSON Schema (OpenAPI 3.0 subset) of the output. */
  schema: Record<string, unknown>;
}

export interface PreparedExecution {
  /** Inputs as the job records them (validated, defaults filled in). */
  inputs: Record<string, unknown>;
  /** The outputs the job produces, when the process narrows the request's (default: the request's). */
  outputs?: string[];
  run(job: RunningJob): Promise<JobResults>;
}

export interface ProcessDefinition {
  id: string;
  version: string;
  title: string;
  description: string;
  keywords: string[];
  jobControlOptions: JobControlOption[];
  outputTransmission: TransmissionMode[];
  /** Transmission of outputs the execute request does not name a mode for. */
  defaultTransmission: TransmissionMode;
  /** Whether a job of this process counts against JOBS_MAX_RUNNING. */
  limited: boolean;
  /** Validates the execute request's `inputs` object; every key is an input, optional ones are optional. */
  inputs: z.ZodObject;
  /** Titles of the inputs (descriptions come from the zod schemas' .describe()). */
  inputTitles: Record<string, string>;
  outputs: Record<string, OutputSpec>;
  /** Input ids whose value may be given by reference ({"href": ...}) and is then fetched as text. */
  textByReference?: string[];
  /** `outputs`: the request's outputs (all when it names none; `named` says whether it named any). */
  prepare(inputs: Record<string, unknown>, outputs: string[], signal?: AbortSignal, named?: boolean): Promise<PreparedExecution>;
  /** Collection output (?response=collection): one virtual collection per output, stored for any instance. */
  collections?(inputs: Record<string, unknown>, outputs: string[], named: boolean, signal?: AbortSignal): Promise<VirtualCollection[]>;
}
