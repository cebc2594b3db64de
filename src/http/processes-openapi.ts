/**
 * The OGC API - Processes part of /api (merged into openapi.ts): paths with the operationIds of the official
 * 1.0 OpenAPI (getProcesses, getProcessDescription, execute, getJobs, getStatus, dismiss, getResult), their
 * parameters and responses. Exception responses reuse the components openapi.ts defines.
 */
type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/${name}` });
const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } }, 'text/html': { schema: { type: 'string' } } } });
const errors = { '400': ref('responses/BadRequest'), '404': ref('responses/NotFound'), '500': ref('responses/ServerError') };
const query = (name: string, description: string, schema: Json) => ({ name, in: 'query', required: false, description, schema });
const path = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });

export function processesOpenApiPaths(): Record<string, Json> {
  const processId = path('processId', 'A process id (GET /processes)');
  const jobId = path('jobId', 'A job id (GET /jobs)');
  const limit = query('limit', 'Items per page', { type: 'integer', minimum: 1, maximum: 10000, default: 10 });
  const f = ref('parameters/f-metadata');
  return {
    '/processes': {
      get: { operationId: 'getProcesses', summary: 'The processes', tags: ['Processes'], parameters: [limit, query('offset', 'Processes to skip', { type: 'integer', minimum: 0 }), f], responses: { '200': json('Process list'), ...errors } },
    },
    '/processes/{processId}': {
      get: { operationId: 'getProcessDescription', summary: 'A process description (inputs and outputs as JSON Schema)', tags: ['Processes'], parameters: [processId, f], responses: { '200': json('Process description'), ...errors } },
    },
    '/processes/{processId}/execution': {
      post: {
        operationId: 'execute',
        summary: 'Execute a process (synchronously; asynchronously with Prefer: respond-async)',
        tags: ['Processes'],
        parameters: [
          processId,
          { name: 'Prefer', in: 'header', required: false, description: 'respond-async: create a job and answer 201 at once', schema: { type: 'string' } },
          query('response', 'collection: answer with virtual collections of the outputs (303 to one, or a results document linking several)', { type: 'string', enum: ['collection'] }),
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { inputs: { type: 'object' }, outputs: { type: 'object' }, response: { type: 'string', enum: ['raw', 'document'] } } } } } },
        responses: {
          '200': {
            description: 'Results: a results document, one raw value, or multipart/related for several',
            content: {
              'application/json': { schema: { type: 'object' } },
              'multipart/related': { schema: { type: 'string', format: 'binary' } },
              'image/tiff; application=geotiff; profile=cloud-optimized': { schema: { type: 'string', format: 'binary' } },
              'text/plain': { schema: { type: 'string' } },
            },
          },
          '201': { description: 'Job created (statusInfo)', headers: { Location: { schema: { type: 'string' } } }, content: { 'application/json': { schema: { type: 'object' } } } },
          '204': { description: 'Raw results by reference: one Link header per output' },
          '303': { description: 'The virtual collection of the only output', headers: { Location: { schema: { type: 'string' } } } },
          ...errors,
          '503': { description: 'Too many jobs queued', content: { 'application/json': { schema: ref('schemas/exception') } } },
        },
      },
    },
    '/jobs': {
      get: {
        operationId: 'getJobs',
        summary: 'Jobs, newest first',
        tags: ['Jobs'],
        parameters: [
          limit,
          query('cursor', 'Opaque: from the next link', { type: 'string' }),
          query('type', 'process', { type: 'string' }),
          query('processID', 'Comma-separated process ids', { type: 'string' }),
          query('status', 'Comma-separated statuses', { type: 'string' }),
          query('datetime', 'Creation time: an instant or an interval start/end (.. for open)', { type: 'string' }),
          query('minDuration', 'Seconds', { type: 'integer', minimum: 0 }),
          query('maxDuration', 'Seconds', { type: 'integer', minimum: 0 }),
          f,
        ],
        responses: { '200': json('Job list'), ...errors },
      },
    },
    '/jobs/{jobId}': {
      get: { operationId: 'getStatus', summary: 'Job status (statusInfo)', tags: ['Jobs'], parameters: [jobId, f], responses: { '200': json('statusInfo'), ...errors } },
      delete: { operationId: 'dismiss', summary: 'Dismiss a job: stop it and remove its results', tags: ['Jobs'], parameters: [jobId], responses: { '200': json('statusInfo, status dismissed'), ...errors } },
    },
    '/jobs/{jobId}/results': {
      get: {
        operationId: 'getResult',
        summary: 'Job results, as the execute request asked for them',
        tags: ['Jobs'],
        parameters: [jobId],
        responses: { '200': { description: 'Results', content: { 'application/json': { schema: { type: 'object' } }, 'multipart/related': { schema: { type: 'string', format: 'binary' } } } }, '204': { description: 'Results by reference (Link headers)' }, '410': { description: 'Dismissed: results removed' }, ...errors },
      },
    },
    '/jobs/{jobId}/results/{outputId}': {
      get: {
        operationId: 'getResultOutput',
        summary: 'One output: a COG (byte ranges supported) or a value',
        tags: ['Jobs'],
        parameters: [jobId, path('outputId', 'An output id of the job'), { name: 'Range', in: 'header', required: false, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'The output', content: { 'image/tiff; application=geotiff; profile=cloud-optimized': { schema: { type: 'string', format: 'binary' } }, 'text/plain': { schema: { type: 'string' } } } },
          '206': { description: 'A byte range of the output' },
          '416': { description: 'Range not satisfiable' },
          ...errors,
        },
      },
    },
  };
}
