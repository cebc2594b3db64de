import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * Issue 9, finding 5: addresses that are not plainly public unicast are refused, however they are spelled,
 * directly, after a redirect and after DNS. The HTTP cases run against the real service with a canary server
 * on 127.0.0.1 that must never be reached; only loopback forms are sent over the network (the tunnelling
 * forms, whose traffic would leave loopback if the policy failed, are judged without connecting, in
 * test/net-address-policy.test.ts).
 */

describe('address policy on the wire', () => {
  let canary: Server;
  let canaryPort: number;
  let canaryHits = 0;
  let redirector: Server;
  let redirectorHost: string;
  let app: TestApp;

  beforeAll(async () => {
    canary = createServer((_req, res) => {
      canaryHits++;
      res.writeHead(200, { 'content-type': 'image/tiff' }).end('II*\0');
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    canaryPort = (canary.address() as AddressInfo).port;
    // An allowlisted host that redirects to the canary in every disguise.
    redirector = createServer((req, res) => {
      const target = decodeURIComponent((req.url ?? '/').slice('/to/'.length));
      res.writeHead(302, { location: target }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    redirectorHost = `127.0.0.1:${(redirector.address() as AddressInfo).port}`;
    app = await startTestApp({ allowHosts: [redirectorHost] });
  });

  afterAll(async () => {
    await app.close();
    await new Promise<void>((resolve) => canary.close(() => resolve()));
    await new Promise<void>((resolve) => redirector.close(() => resolve()));
  });

  const collection = (source: string) => `/collections/DEM?DEM=${encodeURIComponent(source)}`;

  it.each([
    ['IPv4-compatible', (port: number) => `http://[::127.0.0.1]:${port}/dem.tif`, /\[::7f00:1\].*IPv4-compatible IPv6 address/],
    ['IPv4-compatible, hex', (port: number) => `http://[::7f00:1]:${port}/dem.tif`, /IPv4-compatible IPv6 address/],
    ['IPv4-mapped', (port: number) => `http://[::ffff:127.0.0.1]:${port}/dem.tif`, /is a loopback address/],
    ['IPv4-translated', (port: number) => `http://[::ffff:0:7f00:1]:${port}/dem.tif`, /is a loopback address/],
    ['a name that resolves to loopback', (port: number) => `http://localhost:${port}/dem.tif`, /localhost resolves to .*loopback/],
  ])('refuses %s directly, with a 400 and without a connection', async (_name, source, reason) => {
    const before = canaryHits;
    const { response, body } = await app.getJson(collection(source(canaryPort)));
    expect(response.status).toBe(400);
    expect(body.detail).toMatch(/^Refused to fetch/);
    expect(body.detail).toMatch(reason);
    expect(canaryHits).toBe(before);
  });

  it.each([
    ['IPv4-compatible', (port: number) => `http://[::7f00:1]:${port}/dem.tif`, /IPv4-compatible IPv6 address/],
    ['IPv4-mapped', (port: number) => `http://[::ffff:7f00:1]:${port}/dem.tif`, /is a loopback address/],
    ['a name that resolves to loopback', (port: number) => `http://localhost:${port}/dem.tif`, /localhost resolves to .*loopback/],
  ])('refuses a redirect to %s, with a 400 and without a connection', async (_name, target, reason) => {
    const before = canaryHits;
    const { response, body } = await app.getJson(collection(`http://${redirectorHost}/to/${encodeURIComponent(target(canaryPort))}`));
    expect(response.status).toBe(400);
    expect(body.detail).toMatch(/^Refused redirect to/);
    expect(body.detail).toMatch(reason);
    expect(canaryHits).toBe(before);
  });

  it('the canary itself is reachable when allowlisted, so a refusal above is the policy, not the network', async () => {
    const open = await startTestApp({ allowHosts: [`127.0.0.1:${canaryPort}`] });
    try {
      const before = canaryHits;
      const { response } = await open.getJson(collection(`http://127.0.0.1:${canaryPort}/dem.tif`));
      expect(response.status).toBe(502); // reached, and its four bytes are not a GeoTIFF
      expect(canaryHits).toBeGreaterThan(before);
    } finally {
      await open.close();
    }
  });
});
