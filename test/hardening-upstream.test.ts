import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { FIXTURES } from './helpers/fixture-server.js';
import { slippyTile } from './helpers/tiles.js';

/**
 * Issue 9, findings 3 and 4 and the lying upstreams of finding 2, against the real service: one deadline for
 * all the fetches of a request, timeouts during a body reported as 504, and upstreams that lie about sizes
 * and ranges cut off early with a 502 that says why.
 */
const TCI = readFileSync(`${FIXTURES}cog/titiler/TCI.tif`);
const [ROW, COL] = slippyTile(23.95, 32.25, 12); // a tile with data in TCI.tif (bench, docs/raster.md)

/** A loopback upstream whose every behaviour is chosen by the first path segment; it counts bytes sent. */
async function startLyingServer() {
  const sockets = new Set<Socket>();
  let bytesSent = 0;
  const send = (res: ServerResponse, body: Buffer) => {
    bytesSent += body.length;
    res.end(body);
  };
  const range = (req: IncomingMessage) => {
    const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    return match ? { start: Number(match[1]), end: Math.min(Number(match[2]), TCI.length - 1) } : undefined;
  };
  const serveRange = (req: IncomingMessage, res: ServerResponse) => {
    const r = range(req) ?? { start: 0, end: TCI.length - 1 };
    res.writeHead(206, { 'content-range': `bytes ${r.start}-${r.end}/${TCI.length}`, 'content-length': r.end - r.start + 1 });
    send(res, TCI.subarray(r.start, r.end + 1));
  };
  const server: Server = createServer((req, res) => {
    const [, behaviour, delay] = (req.url ?? '/').split('/');
    const r = range(req);
    switch (behaviour) {
      case 'slow': // every answer takes `delay` ms, each well under the per-fetch timeout
        setTimeout(() => serveRange(req, res), Number(delay));
        return;
      case 'stall-body': // headers and half the body at once, then nothing
      case 'stall-pixels': {
        if (behaviour === 'stall-pixels' && r && r.start < 16_384) return serveRange(req, res);
        const s = r ?? { start: 0, end: TCI.length - 1 };
        res.writeHead(206, { 'content-range': `bytes ${s.start}-${s.end}/${TCI.length}`, 'content-length': s.end - s.start + 1 });
        const half = TCI.subarray(s.start, s.start + Math.floor((s.end - s.start + 1) / 2));
        bytesSent += half.length;
        res.write(half);
        return;
      }
      case 'ignores-range-huge': // 200 to a range request, for a 40 MB "file"; only the headers are sent
        res.writeHead(200, { 'content-length': 40_000_000 });
        res.write(TCI.subarray(0, 1024));
        return;
      case 'longer-than-asked': // 206 for the range asked, but 4 KiB more than it
        if (!r) return void res.writeHead(400).end();
        res.writeHead(206, { 'content-range': `bytes ${r.start}-${r.end}/${TCI.length}`, 'content-length': r.end - r.start + 1 + 4096 });
        send(res, TCI.subarray(r.start, r.end + 1 + 4096));
        return;
      case 'short-body': // promises the range, sends a tenth of it and hangs up
        if (!r) return void res.writeHead(400).end();
        res.writeHead(206, { 'content-range': `bytes ${r.start}-${r.end}/${TCI.length}`, 'content-length': r.end - r.start + 1 });
        bytesSent += Math.floor((r.end - r.start + 1) / 10);
        res.write(TCI.subarray(r.start, r.start + Math.floor((r.end - r.start + 1) / 10)));
        setTimeout(() => res.destroy(), 20);
        return;
      case 'item-40mb': { // a 40 MB STAC item served with Range support: only its first block should be read
        const total = 40_000_000;
        const s = r ?? { start: 0, end: total - 1 };
        const end = Math.min(s.end, total - 1);
        res.writeHead(206, { 'content-type': 'application/json', 'content-range': `bytes ${s.start}-${end}/${total}`, 'content-length': end - s.start + 1 });
        const head = Buffer.from(`{"type":"Feature","id":"huge","properties":{},"assets":{},"pad":"${' '.repeat(end - s.start + 1)}`).subarray(0, end - s.start + 1);
        send(res, head);
        return;
      }
      case 'endless-json': { // ignores Range, no length, never ends
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        res.write('{"pad":"');
        const timer = setInterval(() => {
          if (res.destroyed) return clearInterval(timer);
          bytesSent += chunk.length;
          res.write(chunk);
        }, 1);
        res.on('close', () => clearInterval(timer));
        return;
      }
      default:
        res.writeHead(404).end();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytesSent: () => bytesSent,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let upstream: Awaited<ReturnType<typeof startLyingServer>>;
beforeAll(async () => {
  upstream = await startLyingServer();
});
afterAll(async () => upstream.close());

async function timed(app: TestApp, path: string) {
  const started = performance.now();
  const { response, body } = await app.getJson(path);
  return { status: response.status, body, ms: performance.now() - started };
}

const tilePath = (source: string) => `/collections/S2RGB/map/tiles/WebMercatorQuad/12/${ROW}/${COL}?S2RGB=${encodeURIComponent(source)}`;
const collectionPath = (source: string) => `/collections/S2RGB?S2RGB=${encodeURIComponent(source)}`;

describe('one deadline for all fetches of a request (finding 3)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ allowHosts: [new URL(upstream.url).host], env: { FETCH_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '2000' } });
    // The same tile from the fixture server first, so code paths are warm and the figures below are the
    // upstream's (a cold process on a busy machine may need a second try within the deadline).
    const warm = tilePath(`${app.fixtures.url}/cog/titiler/TCI.tif`);
    let status = 0;
    for (let attempt = 0; attempt < 3 && status !== 200; attempt++) status = (await app.get(warm)).status;
    expect(status).toBe(200);
  });
  afterAll(async () => app.close());

  it('answers 504 within REQUEST_TIMEOUT_MS when sequential fetches of 1.5 s each add up past it', async () => {
    // Opening (one fetch) then the pixels (another): 3 s in all, each fetch well under FETCH_TIMEOUT_MS.
    const tile = await timed(app, tilePath(`${upstream.url}/slow/1500/TCI.tif`));
    expect(tile.status).toBe(504);
    expect(tile.body.detail).toContain('REQUEST_TIMEOUT_MS=2000');
    expect(tile.ms).toBeGreaterThan(1900);
    expect(tile.ms).toBeLessThan(2000 + 800);
    // One fetch of 1.5 s fits the deadline: the collection document (metadata only) is served.
    const doc = await timed(app, collectionPath(`${upstream.url}/slow/1500/other.tif`));
    expect(doc.status).toBe(200);
    expect((await app.get('/health')).status).toBe(200);
  });
});

describe('timeouts while a body arrives (finding 4)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ allowHosts: [new URL(upstream.url).host], env: { FETCH_TIMEOUT_MS: '600', REQUEST_TIMEOUT_MS: '10000' } });
  });
  afterAll(async () => app.close());

  it('reports a body that stops half-way through the header as 504, after the fetch timeout', async () => {
    const result = await timed(app, collectionPath(`${upstream.url}/stall-body/TCI.tif`));
    expect(result.status).toBe(504);
    expect(result.body.detail).toMatch(/stall-body\/TCI\.tif: the body did not arrive in time/);
    expect(result.ms).toBeGreaterThan(550);
    expect(result.ms).toBeLessThan(600 + 1000);
  });

  it('reports a pixel read that stalls mid-body as 504, not 502', async () => {
    const result = await timed(app, tilePath(`${upstream.url}/stall-pixels/TCI.tif`));
    expect(result.status).toBe(504);
    expect(result.body.detail).toMatch(/stall-pixels\/TCI\.tif: the body did not arrive in time/);
    expect(result.ms).toBeLessThan(2 * 600 + 1000);
  });

  it('reports the request deadline passing during a body as 504 naming REQUEST_TIMEOUT_MS', async () => {
    const strict = await startTestApp({ allowHosts: [new URL(upstream.url).host], env: { FETCH_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '700' } });
    try {
      const result = await timed(strict, tilePath(`${upstream.url}/stall-pixels/TCI.tif?strict`));
      expect(result.status).toBe(504);
      expect(result.body.detail).toContain('REQUEST_TIMEOUT_MS=700');
      expect(result.ms).toBeLessThan(700 + 800);
    } finally {
      await strict.close();
    }
  });
});

describe('upstreams that lie (finding 2)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ allowHosts: [new URL(upstream.url).host], env: { FETCH_TIMEOUT_MS: '3000' } });
  });
  afterAll(async () => app.close());

  it('refuses a 40 MB "file" that ignores Range from its headers alone', async () => {
    const before = upstream.bytesSent();
    const result = await timed(app, collectionPath(`${upstream.url}/ignores-range-huge/TCI.tif`));
    expect(result.status).toBe(502);
    expect(result.body.detail).toMatch(/ignores Range requests and is larger than 16777216 bytes/);
    expect(upstream.bytesSent() - before).toBe(0);
  });

  it('cuts off a range response longer than the range asked for', async () => {
    const result = await timed(app, collectionPath(`${upstream.url}/longer-than-asked/TCI.tif`));
    expect(result.status).toBe(502);
    expect(result.body.detail).toMatch(/is too large: \d+ bytes, the limit is 16384/);
  });

  it('reports a body cut short by the server as 502', async () => {
    const result = await timed(app, collectionPath(`${upstream.url}/short-body/TCI.tif`));
    expect(result.status).toBe(502);
    expect(result.body.detail).toMatch(/reading the body failed/);
  });

  it('refuses a 40 MB STAC item after reading its first block, naming STAC_MAX_DOCUMENT_BYTES', async () => {
    const before = upstream.bytesSent();
    const result = await timed(app, collectionPath(`${upstream.url}/item-40mb/item.json`));
    expect(result.status).toBe(502);
    expect(result.body.detail).toBe(
      `${upstream.url}/item-40mb/item.json is too large: 40000000 bytes, the limit is STAC_MAX_DOCUMENT_BYTES=2097152 (2.0 MiB) for a STAC item document`,
    );
    expect(upstream.bytesSent() - before).toBe(16_384);
  });

  it('stops an endless body at the whole-file cap, in bounded time', async () => {
    const before = upstream.bytesSent();
    const result = await timed(app, collectionPath(`${upstream.url}/endless-json/item.json`));
    expect(result.status).toBe(502);
    expect(result.body.detail).toMatch(/is too large: more than 16777216 bytes/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // What was written before the service hung up, at most one socket buffer past the cap.
    expect(upstream.bytesSent() - before).toBeLessThan(16_777_216 + 8 * 1024 * 1024);
    expect((await app.get('/health')).status).toBe(200);
  });
});
