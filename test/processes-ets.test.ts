import { get as httpGet } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { expectValid } from './helpers/ogc-schemas.js';
import { processesSchemas } from './helpers/processes-schemas.js';

/**
 * The checks of the official test suite ets-ogcapi-processes10 (opengeospatial, master 75abd1f, classes Jobs,
 * ProcessList, Process, LandingPage, Conformance, JobList, OGCProcessDescription), replayed with the requests
 * it builds: TEAM Engine cannot be run offline (../shared/docs/ogcapi.md 4.0). The echo description is read the
 * way CommonFixture.createInput reads it; a plain string input gets "teststring", every output is asked by
 * value, multipart bodies are parsed as JavaMail does without a boundary parameter. Responses are validated
 * with the 1.0 schemas the suite downloads from schemas.opengis.net.
 */
let app: TestApp;
let root: string;
const TEST = 'teststring';
const S = () => processesSchemas();

interface Input {
  id: string;
  types: { type: string; contentMediaType?: string; binary?: boolean }[];
  format?: string;
  bbox: boolean;
}

let inputs: Input[] = [];
let outputs: string[] = [];

beforeAll(async () => {
  app = await startTestApp();
  root = app.url;
  const description = await jsonOf(await fetch(`${root}/processes/echo`, { headers: { accept: 'application/json' } }));
  inputs = Object.entries(description.inputs as Record<string, { schema: any }>).map(([id, { schema }]) => createInput(id, schema));
  outputs = Object.keys(description.outputs);
});
afterAll(async () => {
  await app?.close();
});

/** CommonFixture.createInput: a typed schema, or the types of a top-level oneOf. */
function createInput(id: string, schema: any): Input {
  const input: Input = { id, types: [], bbox: false };
  const typed = (node: any, top: boolean) => {
    const type: Input['types'][number] = { type: node.type };
    if (node.type === 'object' && node.properties && 'bbox' in node.properties) input.bbox = true;
    if (node.type === 'string') {
      if (top && node.format) input.format = node.format;
      if (node.format === 'byte' || node.contentEncoding === 'binary') type.binary = true;
      if (node.contentMediaType) type.contentMediaType = node.contentMediaType;
    }
    if (node.type === 'array' && node.items?.type) input.types.push({ type: node.items.type });
    input.types.push(type);
  };
  if (schema.type) typed(schema, true);
  else if (Array.isArray(schema.oneOf)) for (const child of schema.oneOf) if (child.type) typed(child, false);
  else if (Array.isArray(schema.allOf)) for (const child of schema.allOf) if (child.format === undefined) throw new Error('the suite NPEs on an allOf item without format');
  return input;
}

/** Jobs.addInput. */
function addInput(input: Input, node: Record<string, unknown>): void {
  for (const type of input.types) {
    if (type.type === 'string') {
      if (input.format === undefined && type.contentMediaType === undefined) node[input.id] = TEST;
    } else if (input.bbox) node[input.id] = { crs: 'urn:ogc:def:crs:EPSG:6.6:4326', bbox: [345345345, 345345345, 345345345, 345345345] };
    else if (type.type === 'object') node[input.id] = { value: TEST };
  }
}

function executeNode(response?: 'raw' | 'document'): Record<string, unknown> {
  const node: Record<string, unknown> = {};
  for (const input of inputs) addInput(input, node);
  if (Object.keys(node).length === 0) throw new Error('No supported input found. Only plain string input is supported.');
  return { inputs: node, outputs: Object.fromEntries(outputs.map((id) => [id, { transmissionMode: 'value' }])), ...(response ? { response } : {}) };
}

function oneOutputNode(response: 'raw'): Record<string, unknown> {
  const node: Record<string, unknown> = {};
  for (const input of inputs) addInput(input, node);
  const first = inputs[0].id;
  return { inputs: node, outputs: outputs.includes(first) ? { [first]: { transmissionMode: 'value' } } : {}, response };
}

function pauseNode(): Record<string, unknown> {
  const node: Record<string, unknown> = {};
  addInput(inputs[0], node);
  if (!inputs.some((input) => input.id === 'pause')) throw new Error('skipped: no pause input');
  node.pause = 5;
  const first = inputs[0].id;
  return { inputs: node, outputs: outputs.includes(first) ? { [first]: { transmissionMode: 'value' } } : {}, response: 'raw' };
}

const post = (body: unknown, prefer?: string) =>
  fetch(`${root}/processes/echo/execution`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json; charset=UTF-8', ...(prefer ? { prefer } : {}) },
    body: JSON.stringify(body),
  });

/** sendPostRequestASync: asserts 201. */
async function postAsync(body: unknown): Promise<Response> {
  const response = await post(body, 'respond-async');
  expect(response.status, 'async execution').toBe(201);
  return response;
}

const getJson = (url: string, accept = 'application/json') => fetch(url, { headers: { accept } });
const jsonOf = (response: Response): Promise<any> => response.json();

/** Jobs.validateMultipartResponse, parsing as JavaMail does when the boundary parameter is not given. */
function multipartHasTestString(body: string): boolean {
  const lines = body.split(/\r\n/);
  const boundary = lines.find((line) => line.startsWith('--'));
  if (!boundary) throw new Error('no part boundary found');
  const parts = body.split(boundary).slice(1).filter((part) => !part.startsWith('--'));
  expect(parts.length).toBeGreaterThan(0);
  return parts.some((part) => {
    const [head, ...content] = part.replace(/^\r\n/, '').split('\r\n\r\n');
    // JavaMail gives text/* parts as strings; other types as streams, whose toString() holds no text.
    return /content-type:\s*text\//i.test(head) && content.join('\r\n\r\n').includes(TEST);
  });
}

describe('ets-ogcapi-processes10, replayed: Core', () => {
  it('GeneralHttp.testHttp: HTTP/1.1', async () => {
    const version = await new Promise<string>((resolve, reject) => httpGet(`${root}/`, (res) => (res.resume(), resolve(res.httpVersion))).on('error', reject));
    expect(version).toBe('1.1');
  });

  it('LandingPage: 200, service-desc/doc, conformance and processes links, landingPage.yaml', async () => {
    const response = await getJson(`${root}/`);
    expect(response.status).toBe(200);
    const body = await jsonOf(response);
    const rels = body.links.map((link: any) => link.rel);
    expect(rels.includes('service-desc') || rels.includes('service-doc')).toBe(true);
    expect(rels).toContain('http://www.opengis.net/def/rel/ogc/1.0/conformance');
    expect(rels).toContain('http://www.opengis.net/def/rel/ogc/1.0/processes');
    expectValid(S().landingPage, body, 'landing page');
  });

  it('Conformance: confClasses.yaml, strings, core', async () => {
    const body = await jsonOf(await getJson(`${root}/conformance`));
    expectValid(S().confClasses, body, 'conformance');
    expect(body.conformsTo.every((uri: unknown) => typeof uri === 'string')).toBe(true);
    expect(body.conformsTo).toContain('http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core');
  });

  it('ProcessList: non-empty, processList.yaml; ?limit=1: links and exactly one process', async () => {
    const list = await jsonOf(await getJson(`${root}/processes`));
    expect(list.processes.length).toBeGreaterThan(0);
    expectValid(S().processList, list, 'process list');
    const one = await jsonOf(await getJson(`${root}/processes?limit=1`));
    expect(Array.isArray(one.links)).toBe(true);
    expect(one.processes).toHaveLength(1);
  });

  it('Process: echo valid; an invalid process id is an exception', async () => {
    expectValid(S().process, await jsonOf(await getJson(`${root}/processes/echo`)), 'echo');
    const missing = await getJson(`${root}/processes/invalid-process-${randomUUID()}`);
    expect(missing.status).toBe(404);
    expectValid(S().exception, await jsonOf(missing), 'no-such-process');
  });

  it('OGCProcessDescription: every process valid with inputs, outputs, schemas; a oneOf input and a oneOf output exist', async () => {
    const list = await jsonOf(await getJson(`${root}/processes`));
    for (const summary of list.processes.slice(0, 5)) {
      const description = await jsonOf(await getJson(`${root}/processes/${summary.id}`));
      expectValid(S().process, description, summary.id);
      expect(description.inputs).toBeDefined();
      expect(description.outputs).toBeDefined();
      for (const input of Object.values<any>(description.inputs)) expect(input.schema).toBeDefined();
      for (const output of Object.values<any>(description.outputs)) expect(output.schema).toBeDefined();
    }
    const echo = await jsonOf(await getJson(`${root}/processes/echo`));
    expect(Object.values<any>(echo.inputs).some((input) => Array.isArray(input.schema.oneOf))).toBe(true);
    expect(Object.values<any>(echo.outputs).some((output) => Array.isArray(output.schema.oneOf))).toBe(true);
  });
});

describe('ets-ogcapi-processes10, replayed: Jobs', () => {
  it('the echo description as the suite reads it: string inputs get teststring, jsonInput is left out, no bbox/array/binary (those tests skip)', () => {
    expect(executeNode()).toEqual({ inputs: { echoInput: TEST, mixedInput: TEST }, outputs: { echoInput: { transmissionMode: 'value' }, mixedOutput: { transmissionMode: 'value' } } });
    expect(inputs.some((input) => input.bbox || input.types.some((t) => t.type === 'array' || t.binary))).toBe(false);
  });

  it('DefaultExecutionMode / JobOp / Inputs / InputInline / InlineMixed / InlineObject / DefaultOutputs: 200', async () => {
    expect((await post(executeNode())).status).toBe(200);
    const { outputs: _ignored, ...noOutputs } = executeNode();
    expect((await post(noOutputs)).status).toBe(200);
  });

  it('InputRef / InputValidation (first half): a multipart body with teststring in a part', async () => {
    const response = await post(executeNode());
    expect(response.headers.get('content-type')).toMatch(/^multipart\/related/);
    expect(multipartHasTestString(await response.text())).toBe(true);
  });

  it('InputValidation (second half): a wrong value for the contentMediaType input is a 400 application/json exception', async () => {
    const node = executeNode();
    const target = inputs.find((input) => input.types.some((type) => type.contentMediaType))!;
    (node.inputs as Record<string, unknown>)[target.id] = { type: `wrong/type_${randomUUID()}` };
    const response = await post(node);
    expect([400, 500]).toContain(response.status);
    const type = response.headers.get('content-type')!;
    expect(type === 'application/json' || type.startsWith('application/json;')).toBe(true);
    expectValid(S().exception, await jsonOf(response), 'exception');
  });

  it('AutoExecutionMode / JobCreationOp / SuccessAsync / JobSuccess / JobResults / Request: 201, Location, statusInfo.yaml', async () => {
    for (const prefer of ['respond-async', 'respond-async ']) {
      const response = await post(executeNode(), prefer);
      expect(response.status).toBe(201);
      const created = await jsonOf(response);
      expectValid(S().statusInfo, created, '201 body');
      const location = response.headers.get('location')!;
      expect(location.startsWith(`${root}/jobs/`)).toBe(true);
      const status = await fetch(location); // JobSuccess sends no Accept header
      expect(status.status).toBe(200);
      expect(status.headers.get('content-type')).toBe('application/json');
      expectValid(S().statusInfo, await jsonOf(status), 'status');
    }
  });

  it('SyncDocument / SyncRawMixedMulti / SyncRawRef / SyncRawValueMulti: 200', async () => {
    expect((await post(executeNode('document'))).status).toBe(200);
    expect((await post(executeNode('raw'))).status).toBe(200);
  });

  it('SyncRawValueOne: the body contains teststring', async () => {
    const response = await post(oneOutputNode('raw'));
    expect(response.status).toBe(200);
    expect(await response.text()).toContain(TEST);
  });

  it('AsyncRawValueOne: 201 JSON body; the status (results link, fetched without Accept) leads to teststring', async () => {
    const response = await postAsync(oneOutputNode('raw'));
    await jsonOf(response);
    let status = await jsonOf(await getJson(response.headers.get('location')!));
    for (let attempt = 0; attempt < 4 && !status.links.some((l: any) => l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/results'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await jsonOf(await getJson(status.links.find((l: any) => l.rel === 'monitor').href));
    }
    const results = status.links.find((l: any) => l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/results');
    expect(await (await fetch(results.href)).text()).toContain(TEST);
  });

  it('AsyncDocument / AsyncRawMixedMulti / AsyncRawRef / AsyncRawValueMulti: 201, statusInfo valid', async () => {
    for (const node of [executeNode('document'), executeNode('raw')]) {
      const response = await postAsync(node);
      expectValid(S().statusInfo, await jsonOf(await getJson(response.headers.get('location')!)), 'status');
    }
  });

  it('ResultsExceptionResultsNotReady: integer pause 5, results before the end: 404 result-not-ready', async () => {
    const response = await postAsync(pauseNode());
    const location = response.headers.get('location')!;
    await getJson(location);
    const results = await getJson(`${location}/results`);
    expect(results.status).toBe(404);
    const body = await jsonOf(results);
    expect(body.type).toBe('http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/result-not-ready');
    expectValid(S().exception, body, 'result-not-ready');
    await fetch(location, { method: 'DELETE' });
  });

  it('ResultsFailed: an invalid execute request is > 200 with an exception body', async () => {
    const response = await post({ 'invalid-execute-request': 'true)' });
    expect(response.status).toBeGreaterThan(200);
    expectValid(S().exception, await jsonOf(response), 'exception');
  });

  it('ResultsSync: no Link header on a synchronous response (a rel=monitor one would be followed wrongly)', async () => {
    const response = await post(executeNode());
    expect(response.status).toBe(200);
    expect(response.headers.get('link')).toBeNull();
  });

  it('ExceptionNoSuchJob / ResultsNoSuchJob: the suite asks /processes/invalid-job-<uuid>[/results]; JSON exceptions', async () => {
    for (const path of [`/processes/invalid-job-${randomUUID()}`, `/processes/invalid-job-${randomUUID()}/results`, `/jobs/invalid-job-${randomUUID()}`]) {
      const response = await getJson(`${root}${path}`);
      expect(response.status).toBe(404);
      expectValid(S().exception, await jsonOf(response), path);
    }
  });
});

describe('ets-ogcapi-processes10, replayed: Job List', () => {
  it('JobList: jobs non-empty (made by the tests above), jobList.yaml', async () => {
    const body = await jsonOf(await getJson(`${root}/jobs`));
    expect(body.jobs.length).toBeGreaterThan(0);
    expectValid(S().jobList, body, 'job list');
  });
});
