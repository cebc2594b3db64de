import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { authorizeGeneratedTile } from '../src/http/auth.js';
import { errorHandler } from '../src/http/errors.js';
import { requestId } from '../src/http/request-id.js';
import { createLogger } from '../src/logger.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';

/**
 * Operations on a real loopback server: request ids (X-Request-Id, traceparent, generated) in every log line
 * and error body, Prometheus metrics that move with requests, and API keys on process execution and in links.
 */
/** The service with a logger that keeps every line it writes. */
interface Served extends TestApp {
  lines: Record<string, unknown>[];
}

let fixtures: FixtureServer;

async function startApp(env: Record<string, string> = {}): Promise<Served> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = await startTestApp({ env: { LOG_LEVEL: 'debug', ...env }, logger: createLogger('debug', sink), allowHosts: [new URL(fixtures.url).host] });
  return Object.assign(app, { lines });
}

/** The value of one sample in Prometheus text format (0 when the series does not exist yet). */
async function sample(served: Served, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${served.url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (wanted.length === 0 && line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    const parts = labelText.split(',');
    if (wanted.every((pair) => parts.includes(pair)) && parts.length === wanted.length) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

beforeAll(async () => {
  fixtures = await startFixtureServer();
});
afterAll(async () => {
  await fixtures?.close();
});

describe('request ids', () => {
  let served: Served;
  beforeAll(async () => {
    served = await startApp();
  });
  afterAll(async () => served?.close());

  it('takes X-Request-Id, answers with it, and puts it in every log line of the request and in the error body', async () => {
    const before = served.lines.length;
    const response = await fetch(`${served.url}/collections/S2L2A?S2L2A=${encodeURIComponent(`${fixtures.url}/missing.tif`)}`, { headers: { 'x-request-id': 'support-case-42' } });
    expect(response.status).toBe(502);
    expect(response.headers.get('x-request-id')).toBe('support-case-42');
    expect(((await response.json()) as { requestId: string }).requestId).toBe('support-case-42');
    const lines = served.lines.slice(before);
    // At least the access log line; every line carries the id.
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.reqId, JSON.stringify(line)).toBe('support-case-42');
  });

  it('takes the trace id of a W3C traceparent when there is no X-Request-Id', async () => {
    const response = await fetch(`${served.url}/nowhere`, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(((await response.json()) as { requestId: string }).requestId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('makes a UUID when neither is given or the given one is not a sane token', async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const plain = await fetch(`${served.url}/conformance`);
    expect(plain.headers.get('x-request-id')).toMatch(uuid);
    const hostile = await fetch(`${served.url}/conformance`, { headers: { 'x-request-id': 'a b<script>' } });
    expect(hostile.headers.get('x-request-id')).toMatch(uuid);
    const ids = new Set([plain.headers.get('x-request-id'), hostile.headers.get('x-request-id')]);
    expect(ids.size).toBe(2);
  });
});

describe('metrics', () => {
  let served: Served;
  beforeAll(async () => {
    served = await startApp();
  });
  afterAll(async () => served?.close());

  it('counts requests and latencies by route pattern and status', async () => {
    const route = '/collections/:collectionId';
    const before = await sample(served, 'tmogc_http_requests_total', { method: 'GET', route, status: '200' });
    const histogramBefore = await sample(served, 'tmogc_http_request_duration_seconds_count', { method: 'GET', route, status: '200' });
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${served.url}/collections/sentinel2-tci`)).status).toBe(200);
    expect(await sample(served, 'tmogc_http_requests_total', { method: 'GET', route, status: '200' })).toBe(before + 3);
    expect(await sample(served, 'tmogc_http_request_duration_seconds_count', { method: 'GET', route, status: '200' })).toBe(histogramBefore + 3);
    const missing = await sample(served, 'tmogc_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' });
    await fetch(`${served.url}/no/such/path`);
    expect(await sample(served, 'tmogc_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(missing + 1);
  });

  it('counts cache misses then hits by store, and upstream bytes', async () => {
    const tile = '/collections/parana-s2rgb/map/tiles/WebMercatorQuad/0/0/0';
    const miss = await sample(served, 'tmogc_cache_requests_total', { result: 'miss', store: 'memory' });
    const hit = await sample(served, 'tmogc_cache_requests_total', { result: 'hit', store: 'memory' });
    expect((await fetch(`${served.url}${tile}`)).headers.get('x-cache')).toBe('miss');
    expect((await fetch(`${served.url}${tile}`)).headers.get('x-cache')).toBe('hit');
    expect(await sample(served, 'tmogc_cache_requests_total', { result: 'miss', store: 'memory' })).toBe(miss + 1);
    expect(await sample(served, 'tmogc_cache_requests_total', { result: 'hit', store: 'memory' })).toBe(hit + 1);
    const bytes = await sample(served, 'tmogc_upstream_bytes_total', {});
    await fetch(`${served.url}/collections/S2L2A?S2L2A=${encodeURIComponent(`${fixtures.url}/terramind-examples/S2L2A/38D_378R_2_3.tif`)}`);
    expect(await sample(served, 'tmogc_upstream_bytes_total', {})).toBeGreaterThan(bytes);
  });

  it('declares the generation metrics the chip engine feeds', async () => {
    const text = await (await fetch(`${served.url}/metrics`)).text();
    // Their values move with real generation in test/generation-chips.test.ts; here: declared on every instance.
    for (const name of ['tmogc_generation_chips_total', 'tmogc_generation_queue_chips', 'tmogc_model_stage_seconds', 'tmogc_model_batch_rows', 'tmogc_http_requests_in_flight']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });
});

describe('API keys', () => {
  let served: Served;
  beforeAll(async () => {
    served = await startApp({ API_KEYS: 'key-one,key-two' });
  });
  afterAll(async () => served?.close());

  const execute = (headers: Record<string, string> = {}, query = '') =>
    fetch(`${served.url}/processes/terramind-generate/execution${query}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

  it('process execution without a key is a 401 OGC exception that says how to send one', async () => {
    const response = await execute();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="terramind-ogc"');
    expect(response.headers.get('content-type')).toBe('application/json');
    const body = (await response.json()) as { type: string; status: number; detail: string };
    expect(body.type).toBe('http://www.opengis.net/def/exceptions/ogcapi-common-1/1.0/unauthorized');
    expect(body.status).toBe(401);
    expect(body.detail).toMatch(/X-API-Key/);
  });

  it('a wrong key is a 403, by header, bearer token or query', async () => {
    expect((await execute({ 'x-api-key': 'nope' })).status).toBe(403);
    expect((await execute({ authorization: 'Bearer nope' })).status).toBe(403);
    expect((await execute({}, '?api_key=nope')).status).toBe(403);
  });

  it('a valid key passes the check (the route answers: 404 while no process routes exist)', async () => {
    for (const response of [await execute({ 'x-api-key': 'key-two' }), await execute({ authorization: 'Bearer key-one' }), await execute({}, '?api_key=key-one')]) {
      expect([401, 403]).not.toContain(response.status);
    }
  });

  it('reading stays open, and links keep api_key so XYZ clients keep sending it', async () => {
    expect((await fetch(`${served.url}/collections/sentinel2-tci`)).status).toBe(200);
    const tilejson = (await (await fetch(`${served.url}/collections/sentinel2-tci/map/tiles/WebMercatorQuad/tilejson.json?api_key=key-one`)).json()) as { tiles: string[] };
    expect(tilejson.tiles[0]).toMatch(/[?&]api_key=key-one(&|$)/);
    const tileset = (await (await fetch(`${served.url}/collections/sentinel2-tci/map/tiles/WebMercatorQuad?api_key=key-one`)).json()) as { links: { rel: string; href: string }[] };
    for (const link of tileset.links.filter((l) => l.rel === 'item')) expect(link.href).toContain('api_key=key-one');
  });
});

describe('authorizeGeneratedTile (for the generated tile route)', () => {
  /** A route that generates unless the check throws; `cached` says what the cache lookup answers. */
  function tileRoute(env: Record<string, string>, cached: boolean) {
    const config = loadConfig({ CACHE_URL: 'memory://', ...env });
    const app = new Hono();
    app.use('*', requestId);
    let lookups = 0;
    app.get('/tile', async (c) => {
      await authorizeGeneratedTile(c, config, async () => {
        lookups += 1;
        return cached;
      });
      return c.text('generated');
    });
    app.onError(errorHandler(createLogger('silent')));
    return { request: (init: { headers?: Record<string, string>; query?: string } = {}) => app.request(`/tile${init.query ?? ''}`, { headers: init.headers }), lookups: () => lookups };
  }

  it('no keys configured: always allowed, without a cache lookup', async () => {
    const route = tileRoute({}, false);
    expect((await route.request()).status).toBe(200);
    expect(route.lookups()).toBe(0);
  });

  it('keys configured: an uncached tile needs a key (401), a wrong key is 403, a valid one passes', async () => {
    const route = tileRoute({ API_KEYS: 'k' }, false);
    expect((await route.request()).status).toBe(401);
    expect((await route.request({ headers: { 'x-api-key': 'x' } })).status).toBe(403);
    expect((await route.request({ query: '?api_key=k' })).status).toBe(200);
  });

  it('cached tiles stay public by default and need a key with API_KEYS_PUBLIC_CACHE=false', async () => {
    expect((await tileRoute({ API_KEYS: 'k' }, true).request()).status).toBe(200);
    const closed = tileRoute({ API_KEYS: 'k', API_KEYS_PUBLIC_CACHE: 'false' }, true);
    expect((await closed.request()).status).toBe(401);
    expect(closed.lookups()).toBe(0);
    // A wrong key is refused even for a cached tile: it is a client mistake worth reporting.
    expect((await tileRoute({ API_KEYS: 'k' }, true).request({ headers: { authorization: 'Bearer bad' } })).status).toBe(403);
  });
});
