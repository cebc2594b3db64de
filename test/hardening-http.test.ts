import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * Issue 9, findings 6 and 7, against the real service on loopback: links never carry a Host the operator did
 * not allow, documents say how caches may keep them, and requests Node's HTTP parser rejects get OGC
 * exception JSON.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes exactly as given on a fresh TCP connection and reads until the server closes it. */
function rawRequest(url: string, bytes: string | Buffer): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
    socket.end(bytes);
  });
}

/** GET with an arbitrary Host header (fetch() does not let a caller set it). */
function getWithHost(url: string, host: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host, accept: 'application/json', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function hrefs(document: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if ((key === 'href' || key === 'url') && typeof inner === 'string') found.push(inner);
        else walk(inner);
      }
    }
  };
  walk(document);
  return found;
}

describe('links and cache headers (finding 6)', () => {
  let app: TestApp;
  let configured: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { PORT: '8123' } });
    configured = await startTestApp({ env: { PORT: '8123', LINK_HOSTS: 'tiles.example.org' } });
  });
  afterAll(async () => {
    await app.close();
    await configured.close();
  });

  it('builds links on a loopback Host, varies by Host and keeps them out of shared caches', async () => {
    const response = await getWithHost(`${app.url}/`, new URL(app.url).host);
    expect(response.status).toBe(200);
    const links = hrefs(JSON.parse(response.body));
    expect(links.length).toBeGreaterThan(3);
    for (const href of links) expect(href.startsWith(`${app.url}/`)).toBe(true);
    expect(response.headers.vary).toBe('Accept, Host');
    expect(response.headers['cache-control']).toBe('private, max-age=60');
  });

  it('never writes a foreign Host into links: they fall back to http://localhost:<PORT>', async () => {
    for (const path of ['/', '/collections', '/api', '/collections/sentinel2-tci/map/tiles/WebMercatorQuad', '/collections/sentinel2-tci/map/tiles/WebMercatorQuad/tilejson.json']) {
      const response = await getWithHost(`${app.url}${path}`, 'evil.example:666');
      expect(response.status, path).toBe(200);
      expect(response.body, path).not.toContain('evil.example');
      // Links to the service itself (the OpenAPI document also names its licence, on apache.org).
      const links = hrefs(JSON.parse(response.body))
        .concat(JSON.parse(response.body).tiles ?? [])
        .filter((href) => !href.startsWith('https://www.apache.org/'));
      expect(links.length, path).toBeGreaterThan(0);
      for (const href of links) expect(href === 'http://localhost:8123' || href.startsWith('http://localhost:8123/'), `${path}: ${href}`).toBe(true);
      // Documents whose limits depend on the client (GDAL <= 3.7, src/http/gdal-legacy.ts) also vary by User-Agent.
      const byClient = path.startsWith('/collections') && !path.endsWith('tilejson.json');
      expect(response.headers.vary, path).toBe(byClient ? 'Accept, Host, User-Agent' : 'Accept, Host');
      expect(response.headers['cache-control'], path).toBe('private, max-age=60');
    }
    // The HTML view is built on the same base.
    const html = await getWithHost(`${app.url}/?f=html`, 'evil.example');
    expect(html.status).toBe(200);
    expect(html.body).not.toContain('evil.example');
  });

  it('uses a Host from LINK_HOSTS as given, and still not others', async () => {
    const allowed = await getWithHost(`${configured.url}/collections`, 'tiles.example.org');
    for (const href of hrefs(JSON.parse(allowed.body))) expect(href.startsWith('http://tiles.example.org/')).toBe(true);
    const other = await getWithHost(`${configured.url}/collections`, 'tiles.example.org.evil.example');
    for (const href of hrefs(JSON.parse(other.body))) expect(href.startsWith('http://localhost:8123/')).toBe(true);
  });

  it('with PUBLIC_URL, links ignore the Host and documents may be cached publicly', async () => {
    const withPublic = await startTestApp({ env: { PUBLIC_URL: 'https://tiles.example.org/ogc' } });
    try {
      const response = await getWithHost(`${withPublic.url}/collections`, 'evil.example');
      expect(response.status).toBe(200);
      for (const href of hrefs(JSON.parse(response.body))) expect(href.startsWith('https://tiles.example.org/ogc/')).toBe(true);
      expect(response.headers.vary).toBe('Accept, User-Agent'); // /collections: limits depend on the client (GDAL <= 3.7)
      expect(response.headers['cache-control']).toBe('public, max-age=60');
    } finally {
      await withPublic.close();
    }
  });
});

describe('requests the HTTP parser rejects (finding 7)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app.close());

  const cases: [string, string | Buffer, number, RegExp][] = [
    ['a method with a control byte', 'GE\x01T / HTTP/1.1\r\nHost: x\r\n\r\n', 400, /HPE_INVALID_METHOD/],
    ['a NUL byte in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 400, /HPE_INVALID_HEADER_TOKEN/],
    ['a space inside a header name', 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n', 400, /HPE_INVALID_HEADER_TOKEN/],
    ['a control byte in the path', 'GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n', 400, /HPE_INVALID_URL/],
    ['an unknown HTTP version', 'GET / HTTP/7.1\r\nHost: x\r\n\r\n', 400, /HPE_INVALID_VERSION/],
    ['two Content-Length values', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400, /HPE_UNEXPECTED_CONTENT_LENGTH|HPE_INVALID_CONTENT_LENGTH/],
    ['a bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, /HPE_INVALID_CHUNK_SIZE/],
    ['headers over 16 KiB', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, /HPE_HEADER_OVERFLOW/],
  ];

  it.each(cases)('answers %s with OGC exception JSON', async (_name, bytes, status, code) => {
    const response = await rawRequest(app.url, bytes);
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers.connection).toBe('close');
    const body = JSON.parse(response.body) as { type: string; title: string; status: number; detail: string };
    expect(body.status).toBe(status);
    expect(body.type).toMatch(/^http:\/\/www\.opengis\.net\/def\/exceptions\/ogcapi-common-1\/1\.0\//);
    expect(body.title).toBe(status === 431 ? 'Request header fields too large' : 'Bad request');
    expect(body.detail).toMatch(code);
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
  });

  it('keeps serving afterwards, also when the client hangs up mid-request', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(app.url).port), '127.0.0.1', () => {
        socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Partial: ');
        socket.destroy();
        resolve();
      });
    });
    const health = await app.get('/health');
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe('ok');
  });
});
