import { z } from 'zod';
import { badRequest } from '../errors.js';
import type { TransmissionMode } from '../jobs/types.js';
import { readBody } from '../net/guarded-fetch.js';
import type { GuardedFetch } from '../net/types.js';
import type { ProcessDefinition } from './types.js';

/**
 * The execute request (OGC API - Processes 1.0 execute.yaml), parsed structurally: the official schema's oneOfs
 * are ambiguous, so the body is checked for its members here and each input against the process's own zod
 * schema. Unknown members are a 400 (the OGC test suite sends {"invalid-execute-request": ...} and expects
 * an exception). `outputs: {}` means every output, as in 1.0.
 */
const OutputRequest = z
  .object({
    transmissionMode: z.enum(['value', 'reference']).optional(),
    format: z.object({ mediaType: z.string().optional(), encoding: z.string().optional(), schema: z.unknown().optional() }).optional(),
  })
  .strict();

const ExecuteRequest = z
  .object({
    inputs: z.record(z.string(), z.unknown()).default({}),
    outputs: z.record(z.string(), OutputRequest).optional(),
    response: z.enum(['raw', 'document']).optional(),
    /** 2.0 draft: the process URI; checked against the path when given. */
    process: z.string().optional(),
    subscriber: z.unknown().optional(),
  })
  .strict();

export interface ExecuteRequest {
  inputs: Record<string, unknown>;
  /** Output ids asked for (all when the request names none) and their transmission. */
  outputs: { id: string; transmissionMode: TransmissionMode }[];
  /** Whether the request named its outputs (else `outputs` lists every output of the process). */
  outputsNamed: boolean;
  response: 'raw' | 'document';
}

export function parseExecuteRequest(body: unknown, process: ProcessDefinition): ExecuteRequest {
  const parsed = ExecuteRequest.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    throw badRequest(`Invalid execute request: ${problems.join('; ')}. Expected {"inputs": {...}, "outputs"?: {...}, "response"?: "raw" | "document"}.`);
  }
  const request = parsed.data;
  if (request.subscriber !== undefined) throw badRequest('subscriber: callbacks are not supported by this server; poll the job status instead.');
  if (request.process !== undefined && !request.process.replace(/\/+$/, '').endsWith(`/processes/${process.id}`) && request.process !== process.id) {
    throw badRequest(`process: the request names '${request.process}' but was sent to process '${process.id}'.`);
  }
  const known = Object.keys(process.outputs);
  const named = Object.keys(request.outputs ?? {});
  for (const id of named) if (!known.includes(id)) throw badRequest(`outputs.${id}: process ${process.id} has no such output; its outputs: ${known.join(', ')}.`);
  const outputs = (named.length > 0 ? named : known).map((id) => {
    const mode = request.outputs?.[id]?.transmissionMode ?? process.defaultTransmission;
    if (!process.outputTransmission.includes(mode)) throw badRequest(`outputs.${id}.transmissionMode: ${mode} is not offered; use ${process.outputTransmission.join(' or ')}.`);
    return { id, transmissionMode: mode };
  });
  return { inputs: request.inputs, outputs, outputsNamed: named.length > 0, response: request.response ?? 'raw' };
}

/**
 * Validates the inputs with the process's zod schema: qualified values ({"value": ..., "mediaType": ...}) are
 * unwrapped, and text inputs given by reference are fetched (through the guarded fetch, so the usual URL
 * policy applies). A problem is a 400 naming the input: "inputs.bbox.crs: ...".
 */
export async function validateInputs(
  process: ProcessDefinition,
  inputs: Record<string, unknown>,
  fetch: GuardedFetch,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const resolved: Record<string, unknown> = {};
  for (const [id, value] of Object.entries(inputs)) {
    resolved[id] = await resolveValue(process, id, value, fetch, signal);
  }
  const result = process.inputs.safeParse(resolved);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.map(String);
      if (issue.code === 'unrecognized_keys') return `inputs: unknown input${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (inputs: ${Object.keys(process.inputs.shape).join(', ')})`;
      return `inputs.${path.join('.')}: ${issue.message}`;
    });
    throw badRequest(`Invalid inputs for process ${process.id}: ${problems.join('; ')}.`);
  }
  return result.data as Record<string, unknown>;
}

async function resolveValue(process: ProcessDefinition, id: string, value: unknown, fetch: GuardedFetch, signal?: AbortSignal): Promise<unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  if (process.textByReference?.includes(id) && typeof record.href === 'string') {
    const response = await fetch(record.href, { signal });
    if (!response.ok) throw badRequest(`inputs.${id}: ${record.href} answered HTTP ${response.status}.`);
    return new TextDecoder().decode(await readBody(response, 1024 * 1024));
  }
  // A qualified value, unless the input's own schema is an object with a "value" member.
  if ('value' in record && !objectSchemaHas(process, id, 'value')) return record.value;
  return value;
}

function objectSchemaHas(process: ProcessDefinition, id: string, member: string): boolean {
  const schema = process.inputs.shape[id] as unknown as { unwrap?: () => unknown; shape?: Record<string, unknown> } | undefined;
  let inner: unknown = schema;
  for (let depth = 0; depth < 4 && inner && typeof (inner as { unwrap?: unknown }).unwrap === 'function'; depth++) inner = (inner as { unwrap: () => unknown }).unwrap();
  return Boolean((inner as { shape?: Record<string, unknown> } | undefined)?.shape?.[member]);
}

/** `Prefer: respond-async` (comma lists, parameters and stray spaces allowed: the OGC suite sends "respond-async "). */
export function prefersAsync(header: string | undefined): boolean {
  return (header ?? '')
    .split(',')
    .map((part) => part.split(';')[0].trim().toLowerCase())
    .includes('respond-async');
}
