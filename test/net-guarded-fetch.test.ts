import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OgcError } from '../src/errors.js';
import { createMetrics } from '../src/metrics.js';
import { addressRefusal } from '../src/net/address-policy.js';
import { createGuardedFetch, fetchJson, readBody } from '../src/net/guarded-fetch.js';
import type { FetchPolicy } from '../src/net/types.js';
import { FIXTURES, startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';

const ITEM = 'cog/titiler/item.json';
const B01 = 'cog/titiler/B01.tif';

function policy(overrides: Partial<FetchPolicy> = {}): FetchPolicy {
  return { allowHosts: ['127.0.0.1'], timeoutMs: 5000, maxBytes: 1 << 20, allowFileUrls: false, ...overrides };
}

async function failure(promise: Promise<unknown>): Promise<OgcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OgcError);
    return error as OgcError;
  }
  throw new Error('expected the call to fail');
}

/** A loopback server whose answers the test scripts: redirects, silence, garbage. */
async function startScriptedServer(handler: Parameters<typeof createServer>[1]) {
  const sockets = new Set<Socket>();
  const server: Server = createServer(handler);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let fixtures: FixtureServer;
let scripted: Awaited<ReturnType<typeof startScriptedServer>>;

beforeAll(async () => {
  fixtures = await startFixtureServer();
  scripted = await startScriptedServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/to-fixture') res.writeHead(302, { location: `${fixtures.url}/${ITEM}` }).end();
    else if (path === '/to-metadata') res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    else if (path === '/to-private') res.writeHead(307, { location: 'http://10.1.2.3/item.json' }).end();
    else if (path === '/to-mapped') res.writeHead(308, { location: 'http://[::ffff:7f00:1]/x' }).end();
    else if (path === '/to-file') res.writeHead(302, { location: `${pathToFileURL(FIXTURES).href}${ITEM}` }).end();
    else if (path === '/to-localhost') res.writeHead(302, { location: `http://localhost:${new URL(fixtures.url).port}/${ITEM}` }).end();
    else if (path === '/bad-location') res.writeHead(302, { location: 'http://[zz' }).end();
    else if (path === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else if (path === '/silent') return; // never answers
    else if (path === '/not-json') res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "x",');
    else if (path === '/conditional') res.writeHead(304).end();
    else if (path === '/empty') res.writeHead(204).end();
    else if (path === '/chunked') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(4096, 7)); // no content-length is promised up front when chunked
    } else res.writeHead(404).end('nope');
  });
});

afterAll(async () => {
  await fixtures.close();
  await scripted.close();
});

describe('guarded fetch: allowed sources', () => {
  it('fetches from an allowlisted loopback host and counts requests and bytes', async () => {
    const metrics = createMetrics();
    const fetch = createGuardedFetch(policy(), metrics);
    const response = await fetch(`${fixtures.url}/${B01}`);
    const bytes = await readBody(response, 1 << 20);
    expect(response.status).toBe(200);
    expect(bytes.byteLength).toBe(statSync(`${FIXTURES}${B01}`).size);
    expect(Buffer.from(bytes).equals(readFileSync(`${FIXTURES}${B01}`))).toBe(true);
    const requests = await metrics.upstreamRequests.get();
    expect(requests.values.find((v) => v.labels.outcome === 'ok')?.value).toBe(1);
    expect((await metrics.upstreamBytes.get()).values[0]?.value).toBe(bytes.byteLength);
  });

  it('passes Range through and returns 206 with exactly those bytes', async () => {
    const fetch = createGuardedFetch(policy());
    const response = await fetch(`${fixtures.url}/${B01}`, { headers: { range: 'bytes=0-15' } });
    expect(response.status).toBe(206);
    const bytes = await readBody(response, 1024);
    expect(Array.from(bytes)).toEqual(Array.from(readFileSync(`${FIXTURES}${B01}`).subarray(0, 16)));
  });

  it('allowlist entries may name host:port, and then only that port passes', async () => {
    const fetch = createGuardedFetch(policy({ allowHosts: [`127.0.0.1:${scripted.port}`] }));
    const error = await failure(fetch(`${scripted.url}/to-fixture`));
    expect(error.status).toBe(400);
    expect(error.detail).toMatch(/Refused redirect to http:\/\/127\.0\.0\.1:\d+\/cog\/titiler\/item\.json: .*loopback/);
  });

  it('follows redirects between allowed hosts and re-checks every hop', async () => {
    const fetch = createGuardedFetch(policy());
    const response = await fetch(`${scripted.url}/to-fixture`);
    expect(response.redirected).toBe(true);
    expect(response.url).toBe(`${fixtures.url}/${ITEM}`);
    const json = (await fetchJson(fetch, `${scripted.url}/to-fixture`, 1 << 20)) as { id: string };
    expect(json.id).toBe('S2A_34SGA_20200318_0_L2A');
  });

  it('passes 204 through with an empty body', async () => {
    const response = await createGuardedFetch(policy())(`${scripted.url}/empty`);
    expect(response.status).toBe(204);
    expect((await readBody(response, 10)).byteLength).toBe(0);
  });

  it('lets a conditional request see 304', async () => {
    const fetch = createGuardedFetch(policy());
    const response = await fetch(`${scripted.url}/conditional`, { headers: { 'If-None-Match': '"abc"' } });
    expect(response.status).toBe(304);
    const error = await failure(fetch(`${scripted.url}/conditional`));
    expect(error.status).toBe(502);
    expect(error.detail).toContain('HTTP 304');
  });
});

describe('guarded fetch: refused URLs (400)', () => {
  it('refuses loopback that is not allowlisted', async () => {
    const metrics = createMetrics();
    const fetch = createGuardedFetch(policy({ allowHosts: [] }), metrics);
    const before = fixtures.requests.length;
    const error = await failure(fetch(`${fixtures.url}/${ITEM}`));
    expect(error.status).toBe(400);
    expect(error.detail).toBe(`Refused to fetch ${fixtures.url}/${ITEM}: 127.0.0.1 is a loopback address`);
    expect((await metrics.upstreamRequests.get()).values.map((v) => [v.labels.outcome, v.value])).toEqual([['refused', 1]]);
    // Refused before connecting: the server saw no request at all.
    expect(fixtures.requests.length).toBe(before);
  });

  it('refuses a DNS name that resolves to loopback (checked at connect time)', async () => {
    const before = fixtures.requests.length;
    const fetch = createGuardedFetch(policy({ allowHosts: [] }));
    const port = new URL(fixtures.url).port;
    const error = await failure(fetch(`http://localhost:${port}/${ITEM}`));
    expect(error.status).toBe(400);
    expect(error.detail).toMatch(/localhost resolves to .*loopback/);
    expect(fixtures.requests.length).toBe(before);
  });

  it('an allowlisted name is fetched although it resolves to loopback', async () => {
    // localhost may resolve to 127.0.0.1 or to ::1 first: one port answers on both, so the fetch must succeed.
    const item = readFileSync(`${FIXTURES}${ITEM}`);
    const answer: Parameters<typeof createServer>[1] = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(item);
    const servers = [createServer(answer)];
    await new Promise<void>((resolve) => servers[0]!.listen(0, '127.0.0.1', resolve));
    const port = (servers[0]!.address() as AddressInfo).port;
    const v6 = createServer(answer);
    const v6Listening = await new Promise<boolean>((resolve) => {
      v6.once('error', () => resolve(false)); // no IPv6 loopback here: localhost cannot resolve to ::1 either
      v6.listen(port, '::1', () => resolve(true));
    });
    if (v6Listening) servers.push(v6);
    try {
      const response = await createGuardedFetch(policy({ allowHosts: ['localhost'] }))(`http://localhost:${port}/${ITEM}`);
      expect(response.status).toBe(200);
      expect(Buffer.from(await readBody(response, 1 << 20)).equals(item)).toBe(true);
    } finally {
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    }
  });

  it('refuses a redirect from an allowlisted host to the metadata service, a private or an IPv4-mapped address', async () => {
    const fetch = createGuardedFetch(policy());
    const metadata = await failure(fetch(`${scripted.url}/to-metadata`));
    expect(metadata.status).toBe(400);
    expect(metadata.detail).toContain('169.254.169.254 is a link-local');
    const privateHop = await failure(fetch(`${scripted.url}/to-private`));
    expect(privateHop.status).toBe(400);
    expect(privateHop.detail).toContain('10.1.2.3 is a private');
    const mapped = await failure(fetch(`${scripted.url}/to-mapped`));
    expect(mapped.status).toBe(400);
    expect(mapped.detail).toMatch(/loopback/);
  });

  it('refuses a redirect to a DNS name that resolves to loopback (checked when the socket connects)', async () => {
    const before = fixtures.requests.length;
    const error = await failure(createGuardedFetch(policy())(`${scripted.url}/to-localhost`));
    expect(error.status).toBe(400);
    expect(error.detail).toMatch(/^Refused redirect to http:\/\/localhost:\d+\/cog\/titiler\/item\.json: localhost resolves to .*loopback/);
    expect(fixtures.requests.length).toBe(before);
  });

  it('refuses a redirect to file:// even when file URLs are allowed for operators', async () => {
    const fetch = createGuardedFetch(policy({ allowFileUrls: true }));
    const error = await failure(fetch(`${scripted.url}/to-file`));
    expect(error.status).toBe(400);
    expect(error.detail).toContain('scheme "file" is not allowed');
  });

  it('refuses file:// unless the policy allows it, and then serves the file (with ranges)', async () => {
    const url = `${pathToFileURL(FIXTURES).href}${B01}`;
    const refused = await failure(createGuardedFetch(policy())(url));
    expect(refused.status).toBe(400);
    expect(refused.detail).toContain('file://');
    const fetch = createGuardedFetch(policy({ allowFileUrls: true }));
    const response = await fetch(url, { headers: { Range: 'bytes=4-7' } });
    expect(response.status).toBe(206);
    expect(Array.from(await readBody(response, 100))).toEqual(Array.from(readFileSync(`${FIXTURES}${B01}`).subarray(4, 8)));
    const missing = await failure(fetch(`${pathToFileURL(FIXTURES).href}nope.json`));
    expect(missing.status).toBe(404);
  });

  it.each([
    ['ftp://example.com/a.tif', 'scheme "ftp"'],
    ['gopher://example.com/', 'scheme "gopher"'],
    ['http://10.0.0.5/a.tif', 'private'],
    ['http://172.16.3.4/a.tif', 'private'],
    ['http://192.168.1.1/a.tif', 'private'],
    ['http://100.64.1.1/a.tif', 'carrier-grade NAT'],
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://0.1.2.3/', 'an unspecified'],
    ['http://192.0.2.7/', 'reserved'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://[::1]/', 'loopback'],
    ['http://[::]/', 'unspecified'],
    ['http://[fd12:3456::1]/', 'unique-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://[::ffff:10.0.0.1]/', 'private'],
    ['http://[::ffff:169.254.169.254]/', 'link-local'],
    ['http://[2002:7f00:1::]/', 'non-public (6to4)'],
    ['http://[64:ff9b::a00:1]/', 'non-public (rfc6052)'],
    ['http://[2001:0:4136:e378::1]/', 'non-public (teredo)'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://user:pw@example.com/', 'credentials'],
    ['not a url', 'not a valid URL'],
  ])('refuses %s', async (url, reason) => {
    const fetch = createGuardedFetch(policy({ allowHosts: [] }));
    const error = await failure(fetch(url));
    expect(error.status).toBe(400);
    expect(error.detail).toContain(reason);
  });

  it('judges public unicast addresses as fetchable', () => {
    expect(addressRefusal('8.8.8.8')).toBeUndefined();
    expect(addressRefusal('2001:4860:4860::8888')).toBeUndefined();
    expect(addressRefusal('::ffff:8.8.8.8')).toBeUndefined();
    expect(addressRefusal('127.0.0.53')).toContain('loopback');
  });
});

describe('guarded fetch: upstream failures', () => {
  it('times out a server that never answers with a 504 in about the configured time', async () => {
    const metrics = createMetrics();
    const fetch = createGuardedFetch(policy({ timeoutMs: 300 }), metrics);
    const started = performance.now();
    const error = await failure(fetch(`${scripted.url}/silent`));
    const elapsed = performance.now() - started;
    expect(error.status).toBe(504);
    expect(error.detail).toContain('did not answer within 300 ms');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
    const outcomes = (await metrics.upstreamRequests.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(outcomes).toEqual([['timeout', 1]]);
  });

  it('a caller abort is passed through, not reported as a timeout', async () => {
    const fetch = createGuardedFetch(policy({ timeoutMs: 5000 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(fetch(`${scripted.url}/silent`, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('maps an upstream 404 to 502 naming the status', async () => {
    const fetch = createGuardedFetch(policy());
    const error = await failure(fetch(`${fixtures.url}/cog/none.tif?sig=secret`));
    expect(error.status).toBe(502);
    expect(error.detail).toContain('HTTP 404');
    expect(error.detail).not.toContain('secret');
  });

  it('maps a refused connection to 502', async () => {
    const closed = await startScriptedServer(() => undefined);
    await closed.close();
    const error = await failure(createGuardedFetch(policy())(`${closed.url}/x`));
    expect(error.status).toBe(502);
    expect(error.detail).toContain('ECONNREFUSED');
  });

  it('maps a redirect to an unparsable Location to 502', async () => {
    const error = await failure(createGuardedFetch(policy())(`${scripted.url}/bad-location`));
    expect(error.status).toBe(502);
    expect(error.detail).toContain('redirected to an invalid URL "http://[zz"');
  });

  it('stops after 5 redirects', async () => {
    const error = await failure(createGuardedFetch(policy())(`${scripted.url}/loop`));
    expect(error.status).toBe(502);
    expect(error.detail).toContain('more than 5 redirects');
  });

  it('refuses bodies larger than the limit, declared or streamed', async () => {
    const size = statSync(`${FIXTURES}${B01}`).size;
    const small = createGuardedFetch(policy({ maxBytes: 1000 }));
    const declared = await failure(small(`${fixtures.url}/${B01}`));
    expect(declared.status).toBe(502);
    expect(declared.detail).toContain(`too large: ${size} bytes`);
    const streamed = await failure(small(`${scripted.url}/chunked`).then((r) => readBody(r, 1 << 20)));
    expect(streamed.status).toBe(502);
    expect(streamed.detail).toContain('too large');
    const fetch = createGuardedFetch(policy());
    const byReader = await failure(fetch(`${fixtures.url}/${B01}`).then((r) => readBody(r, 100)));
    expect(byReader.status).toBe(502);
    expect(byReader.detail).toMatch(/too large/);
  });

  it('fetchJson reports a body that is not JSON as a 502', async () => {
    const error = await failure(fetchJson(createGuardedFetch(policy()), `${scripted.url}/not-json`, 1000));
    expect(error.status).toBe(502);
    expect(error.detail).toContain('did not return valid JSON');
  });
});
