import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers/fixture-server.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { expectValid, ogcSchemas } from './helpers/ogc-schemas.js';

/**
 * Bad requests of every kind: each gets the right status and an OGC exception body (application/json,
 * valid against exception.yaml) with a detail a user can act on. Never a 500, never a crash.
 */
let app: TestApp;
let upstream: Server;
let upstreamUrl: string;
const schemas = ogcSchemas();
const TCI = readFileSync(`${FIXTURES}cog/titiler/TCI.tif`);

/** A loopback upstream that misbehaves in the ways real ones do. */
function startBadUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/truncated.tif' || path === '/truncated-header.tif') {
      // Cut in the header, or after the header and overviews (GDAL's COG layout puts full resolution last).
      const body = TCI.subarray(0, path === '/truncated.tif' ? Math.floor(TCI.length / 2) : 4096);
      const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        if (start >= body.length) {
          res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
          return;
        }
        const end = Math.min(range[2] ? Number(range[2]) : body.length - 1, body.length - 1);
        res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 }).end(body.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
      return;
    }
    if (path === '/not-a-tiff.tif') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Sign in to continue</body></html>'.repeat(50));
      return;
    }
    if (path === '/item-without-assets.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ type: 'Feature', stac_version: '1.0.0', id: 'x', geometry: null, properties: { datetime: '2020-01-01T00:00:00Z' }, links: [] }),
      );
      return;
    }
    if (path === '/item-file-asset.json' || path === '/item-metadata-asset.json') {
      const href = path === '/item-file-asset.json' ? 'file:///etc/passwd' : 'http://169.254.169.254/latest/meta-data/x.tif';
      const asset = { href, type: 'image/tiff; application=geotiff', roles: ['data'] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          type: 'Feature', stac_version: '1.0.0', id: 'evil', bbox: [0, 0, 1, 1],
          geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]] },
          properties: { datetime: '2020-01-01T00:00:00Z' }, links: [],
          assets: { elevation: asset, data: asset },
        }),
      );
      return;
    }
    if (path === '/item-broken.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"type": "Feature", "assets": ');
      return;
    }
    if (path === '/slow.tif') return; // never answers
    if (path === '/server-error.tif') {
      res.writeHead(500).end('boom');
      return;
    }
    res.writeHead(404).end('not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  upstream = await startBadUpstream();
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  app = await startTestApp({ allowHosts: [new URL(upstreamUrl).host], env: { FETCH_TIMEOUT_MS: '1500' } });
});
afterAll(async () => {
  await app?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

async function expectException(path: string, status: number, detail?: RegExp, headers: Record<string, string> = {}) {
  const response = await app.get(path, headers);
  const text = await response.text();
  expect(response.status, `${path}: ${text}`).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/json');
  const body = JSON.parse(text);
  expectValid(schemas.exception, body, `exception for ${path}`);
  expect(body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  expect(body.type).toMatch(/^http:\/\/www\.opengis\.net\/def\/exceptions\//);
  if (detail) expect(body.detail).toMatch(detail);
  return body;
}

const TILES = '/collections/sentinel2-tci/map/tiles/WebMercatorQuad';
const adHoc = (modality: string, source: string, rest = '') => `/collections/${modality}${rest}?${modality}=${encodeURIComponent(source)}`;

describe('bad paths and parameters', () => {
  it.each([
    ['unknown path', '/nothing/here', 404, /No resource/],
    ['unknown collection', '/collections/no-such-thing', 404, /Unknown collection 'no-such-thing'/],
    ['unknown collection tiles', '/collections/no-such-thing/map/tiles', 404, /Unknown collection/],
    ['unknown tile matrix set', '/tileMatrixSets/GoogleMapsCompatible', 404, /Unknown tile matrix set/],
    ['unknown tile matrix set in a tileset', '/collections/sentinel2-tci/map/tiles/EuropeanETRS89_LAEAQuad', 404, /Unknown tile matrix set/],
    ['unknown tile matrix set in a tile', '/collections/sentinel2-tci/map/tiles/Foo/1/0/0', 404, /Unknown tile matrix set/],
    ['negative row', `${TILES}/12/-1/2317`, 400, /tileRow must be a non-negative integer/],
    ['non-integer col', `${TILES}/12/1662/23.5`, 400, /tileCol/],
    ['letters in tileMatrix', `${TILES}/z12/1662/2317`, 400, /tileMatrix/],
    ['percent-encoded garbage', `${TILES}/12/%ZZ/2317`, 400, undefined],
    ['ETS max int tile', `${TILES}/12/2147483647/2147483647`, 404, /outside the matrix/],
    ['first row past the matrix', `${TILES}/2/4/0`, 404, /^Tile 2\/4\/0 is outside the matrix \(4 rows x 4 cols\)\.$/],
    ['first column past the matrix', `${TILES}/2/0/4`, 404, /^Tile 2\/0\/4 is outside the matrix \(4 rows x 4 cols\)\.$/],
    ['tile matrix beyond the set', `${TILES}/30/0/0`, 404, /not in WebMercatorQuad/],
    ['tile matrix beyond the collection maxzoom', `${TILES}/15/13300/18550`, 404, /not available/],
    ['tile outside the limits', `${TILES}/12/0/0`, 404, /outside this collection's limits/],
    ['unsupported tile format', `${TILES}/12/1662/2317?f=gif`, 400, /f=png/],
    ['unsupported document format', '/collections?f=xml', 400, /f=json or f=html/],
    ['bad TMS version', '/tileMatrixSets/WebMercatorQuad?tmsVersion=3', 400, /tmsVersion/],
    ['bad render parameter', '/collections/sentinel2-tci?rescale=10,1', 400, /rescale/],
    ['repeated query parameter', '/collections/sentinel2-tci?rescale=0,1&rescale=0,2', 400, /given 2 times/],
    ['TileJSON for a non-mercator set', '/collections/sentinel2-tci/map/tiles/WorldCRS84Quad/tilejson.json', 404, /WebMercatorQuad only/],
  ])('%s: %s -> %i', async (_name, path, status, detail) => {
    await expectException(path, status, detail);
  });
});

describe('ad hoc sources', () => {
  it.each([
    ['unknown modality', '/collections/S3OLCI?S3OLCI=https://example.com/x.tif', 404, /modality id/],
    ['missing source parameter', '/collections/S2L2A', 400, /query parameter 'S2L2A'/],
    ['empty source', '/collections/S2L2A?S2L2A=', 400, /query parameter 'S2L2A'/],
    ['relative source', adHoc('S2L2A', 'item.json'), 400, /absolute http\(s\) URL/],
    ['file URL', adHoc('S2L2A', 'file:///etc/passwd'), 400, /http\(s\)/],
    ['cloud metadata address', adHoc('S2L2A', 'http://169.254.169.254/latest/meta-data/'), 400, /Refused/],
    ['loopback port not allowlisted', adHoc('DEM', 'http://127.0.0.1:1/dem.tif'), 400, /Refused/],
    ['private network address', adHoc('DEM', 'http://10.0.0.8/dem.tif'), 400, /Refused/],
    ['name that resolves to loopback', adHoc('DEM', 'http://localhost:2/dem.tif'), 400, /Refused|not allowed/i],
  ])('%s: %s -> %i', async (_name, path, status, detail) => {
    await expectException(path, status, detail);
  });

  it('a refused source is refused on tile requests too, before any tile work', async () => {
    await expectException(adHoc('DEM', 'http://169.254.169.254/dem.tif', '/map/tiles/WebMercatorQuad/10/300/500'), 400, /Refused/);
  });

  it.each([
    ['non-TIFF bytes', '/not-a-tiff.tif', 'DEM', 502, /neither a GeoTIFF nor a STAC item/],
    ['TIFF cut inside its header', '/truncated-header.tif', 'S2RGB', 502, /truncated/],
    ['missing file', '/missing.tif', 'DEM', 502, /404/],
    ['upstream server error', '/server-error.tif', 'DEM', 502, /500/],
    ['STAC item without assets', '/item-without-assets.json', 'S2L2A', 400, /assets/],
    ['STAC item that is not JSON', '/item-broken.json', 'S2L2A', 502, /does not parse/],
    ['STAC item whose asset is a local file', '/item-file-asset.json', 'DEM', 400, /file:\/\//],
    ['STAC item whose asset is the metadata service', '/item-metadata-asset.json', 'DEM', 400, /Refused/],
  ])('%s (%s as %s) -> %i', async (_name, path, modality, status, detail) => {
    await expectException(adHoc(modality, `${upstreamUrl}${path}`), status, detail);
  });

  it('a TIFF cut after its header opens, and its missing tiles fail with a 502 (not a 500, not a hang)', async () => {
    const source = `${upstreamUrl}/truncated.tif`;
    const collection = await app.get(adHoc('S2RGB', source));
    expect(collection.status).toBe(200);
    await expectException(adHoc('S2RGB', source, '/map/tiles/WebMercatorQuad/12/1662/2317'), 502, /truncated\.tif/);
  });

  it('a source that never answers is a 504 within the configured timeout', async () => {
    const started = Date.now();
    const body = await expectException(adHoc('DEM', `${upstreamUrl}/slow.tif`), 504);
    expect(Date.now() - started).toBeLessThan(1500 + 2000);
    expect(body.detail).toMatch(/slow\.tif|timed out|timeout/i);
  });

  it('the service still answers after all of that', async () => {
    const response = await app.get('/collections/sentinel2-tci');
    expect(response.status).toBe(200);
  });
});
