/**
 * Tile service benchmark (`npm run bench`), loopback only, bounded loops.
 *
 * 1. Cache hits: requests/s and p50/p99 latency of one cached tile at concurrency 1 and 32, beside a plain
 *    node:http server answering the same PNG bytes in the same run (the ratio is the figure that travels
 *    between machines). Measured in ROUNDS alternating rounds of each, and reported as the median round, so
 *    that a burst of other load on a shared machine falls on one round of one server, not on a whole figure.
 * 2. Cache misses from a local COG (TCI.tif, 1098 px, 64 px internal tiles, 5 overviews) served by the loopback
 *    fixture server: latency, HTTP requests and bytes fetched per tile, beside the minimum bytes (the internal
 *    tiles of the chosen overview that intersect the tile's footprint), summed over all tiles and over the
 *    tiles with data (any opaque pixel; the others lie over TCI.tif's no-data corner).
 */
import sharp from 'sharp';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import proj4 from 'proj4';
import { fromFile } from 'geotiff';
import { mercatorToLonLat, tileBounds } from '../../src/grid/tiles.js';
import { getTileMatrixSet } from '../../src/grid/tms.js';
import { startTestApp } from '../helpers/app.js';
import { FIXTURES } from '../helpers/fixture-server.js';
import { slippyTile } from '../helpers/tiles.js';
import { benchAgent, load, percentile } from './load.js';

const UTM34 = '+proj=utm +zone=34 +datum=WGS84 +units=m +no_defs';
const ROUNDS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Bytes of the internal TIFF tiles a perfect reader needs for one WebMercatorQuad tile. */
async function minimumBytes(z: number, row: number, col: number) {
  const tiff = await fromFile(`${FIXTURES}cog/titiler/TCI.tif`);
  const count = await tiff.getImageCount();
  const full = await tiff.getImage(0);
  const [ox, oy] = full.getOrigin();
  const fullRes = full.getResolution()[0];
  const matrix = getTileMatrixSet('WebMercatorQuad').definition.tileMatrices[z];
  const [minX, minY, maxX, maxY] = tileBounds(matrix, row, col);
  const points: [number, number][] = [];
  for (let i = 0; i <= 16; i += 1) {
    const t = i / 16;
    points.push([minX + t * (maxX - minX), minY], [minX + t * (maxX - minX), maxY], [minX, minY + t * (maxY - minY)], [maxX, minY + t * (maxY - minY)]);
  }
  const utm = points.map(([x, y]) => proj4('EPSG:4326', UTM34, mercatorToLonLat(x, y)));
  const [, lat] = mercatorToLonLat((minX + maxX) / 2, (minY + maxY) / 2);
  const targetMetres = matrix.cellSize * Math.cos((lat * Math.PI) / 180);
  // Same overview rule as gdalwarp/rio-tiler: the coarsest level at least as fine as the target.
  let level = 0;
  for (let i = 0; i < count; i += 1) {
    const image = await tiff.getImage(i);
    if (full.getWidth() / image.getWidth() <= (targetMetres / fullRes) * 1.01) level = i;
  }
  const image = await tiff.getImage(level);
  const decimation = full.getWidth() / image.getWidth();
  const res = fullRes * decimation;
  const tileW = image.getTileWidth();
  const tileH = image.getTileHeight();
  const xs = utm.map((p) => p[0]);
  const ys = utm.map((p) => p[1]);
  // One source pixel of margin for bilinear sampling.
  const c0 = Math.max(0, Math.floor((Math.min(...xs) - ox) / res) - 1);
  const c1 = Math.min(image.getWidth() - 1, Math.floor((Math.max(...xs) - ox) / res) + 1);
  const r0 = Math.max(0, Math.floor((oy - Math.max(...ys)) / res) - 1);
  const r1 = Math.min(image.getHeight() - 1, Math.floor((oy - Math.min(...ys)) / res) + 1);
  const across = Math.ceil(image.getWidth() / tileW);
  const byteCounts = (await image.fileDirectory.loadValue('TileByteCounts')) as ArrayLike<number>;
  let bytes = 0;
  let tiles = 0;
  if (c0 <= c1 && r0 <= r1) {
    for (let tr = Math.floor(r0 / tileH); tr <= Math.floor(r1 / tileH); tr += 1) {
      for (let tc = Math.floor(c0 / tileW); tc <= Math.floor(c1 / tileW); tc += 1) {
        bytes += Number(byteCounts[tr * across + tc]);
        tiles += 1;
      }
    }
  }
  return { level, bytes, tiles };
}

async function main() {
  const app = await startTestApp();
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    process.stdout.write(`${line}\n`);
  };

  // --- 1. cache hits beside a static server -------------------------------------------------------------
  const [row, col] = slippyTile(23.75, 32.05, 12);
  const tileUrl = `${app.url}/collections/sentinel2-tci/map/tiles/WebMercatorQuad/12/${row}/${col}`;
  const warm = await fetch(tileUrl);
  const png = new Uint8Array(await warm.arrayBuffer());
  const etag = warm.headers.get('etag') ?? '';
  const hit = await fetch(tileUrl);
  if (hit.headers.get('x-cache') !== 'hit') throw new Error('tile did not become a cache hit');
  const staticServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.byteLength, etag, 'cache-control': 'public, max-age=3600' });
    res.end(png);
  });
  await new Promise<void>((resolve) => staticServer.listen(0, '127.0.0.1', resolve));
  const staticUrl = `http://127.0.0.1:${(staticServer.address() as AddressInfo).port}/tile.png`;

  log(`# tiles benchmark (${new Date().toISOString()}, node ${process.version}, loopback)`);
  log(`cache-hit tile: ${png.byteLength} bytes PNG`);
  log(`| server | concurrency | requests (${ROUNDS} rounds) | req/s | p50 ms | p99 ms | CPU µs/request (incl. client) |`);
  log('|---|---|---|---|---|---|---|');
  for (const [concurrency, total] of [
    [1, 2500],
    [32, 10000],
  ] as const) {
    await load(staticUrl, 200, concurrency); // warm-up
    await load(tileUrl, 200, concurrency);
    const plainRounds: Awaited<ReturnType<typeof load>>[] = [];
    const serviceRounds: Awaited<ReturnType<typeof load>>[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      plainRounds.push(await load(staticUrl, total / ROUNDS, concurrency));
      serviceRounds.push(await load(tileUrl, total / ROUNDS, concurrency));
    }
    const summary = (rounds: typeof plainRounds) => ({
      rps: median(rounds.map((r) => r.rps)),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      cpuPerRequest: median(rounds.map((r) => r.cpuPerRequest)),
    });
    const plain = summary(plainRounds);
    const service = summary(serviceRounds);
    const roundRatios = serviceRounds.map((r, i) => r.rps / plainRounds[i]!.rps).sort((a, b) => a - b);
    log(`| node:http static | ${concurrency} | ${total} | ${plain.rps.toFixed(0)} | ${plain.p50.toFixed(2)} | ${plain.p99.toFixed(2)} | ${plain.cpuPerRequest.toFixed(0)} |`);
    log(`| terramind-ogc cache hit | ${concurrency} | ${total} | ${service.rps.toFixed(0)} | ${service.p50.toFixed(2)} | ${service.p99.toFixed(2)} | ${service.cpuPerRequest.toFixed(0)} |`);
    log(
      `ratio at concurrency ${concurrency}: service/static = ${(service.rps / plain.rps).toFixed(2)} (median rounds; per round ${roundRatios[0]!.toFixed(2)}-${roundRatios[ROUNDS - 1]!.toFixed(2)})`,
    );
  }

  // --- 2. cache misses from the COG over loopback HTTP ---------------------------------------------------
  const source = `${app.fixtures.url}/cog/titiler/TCI.tif`;
  log('');
  log(`cache-miss tiles: ad hoc S2RGB over ${source.replace(app.fixtures.url, '<fixture server>')} (TCI.tif, ${(await import('node:fs')).statSync(`${FIXTURES}cog/titiler/TCI.tif`).size} bytes)`);
  log('| tile z/row/col | overview | open: requests / bytes | tile latency ms | tile HTTP requests | tile bytes fetched | minimum bytes (internal tiles) | fetched/minimum |');
  log('|---|---|---|---|---|---|---|---|');
  // Each tile gets its own source URL (a query the fixture server ignores), so the opener's header and block
  // caches start cold for it: the figures are per tile, not helped by neighbours. Opening (header + IFDs) is
  // measured separately, through the collection document.
  const tiles: [number, number, number][] = [];
  for (const z of [9, 10, 11, 12, 13, 14]) {
    for (const [lon, lat] of [
      [23.45, 31.75],
      [23.95, 32.25],
    ]) {
      const [r, c] = slippyTile(lon, lat, z);
      tiles.push([z, r, c]);
    }
  }
  let totalFetched = 0;
  let totalMinimum = 0;
  let totalRequests = 0;
  const withData = { tiles: 0, fetched: 0, minimum: 0, requests: 0, worst: 0 };
  const latencies: number[] = [];
  for (const [index, [z, r, c]] of tiles.entries()) {
    const query = `?S2RGB=${encodeURIComponent(`${source}?cold=${index}`)}`;
    const beforeOpen = app.fixtures.requests.length;
    await (await fetch(`${app.url}/collections/S2RGB${query}`)).arrayBuffer();
    const opened = app.fixtures.requests.slice(beforeOpen);
    const before = app.fixtures.requests.length;
    const t0 = performance.now();
    const response = await fetch(`${app.url}/collections/S2RGB/map/tiles/WebMercatorQuad/${z}/${r}/${c}${query}`);
    const png = Buffer.from(await response.arrayBuffer());
    const ms = performance.now() - t0;
    const alpha = await sharp(png).extractChannel(3).raw().toBuffer();
    const hasData = alpha.some((value) => value > 0);
    if (response.headers.get('x-cache') !== 'miss') throw new Error(`expected a miss for ${z}/${r}/${c}`);
    const seen = app.fixtures.requests.slice(before);
    const fetched = seen.reduce((sum, r2) => sum + r2.bytes, 0);
    const minimum = await minimumBytes(z, r, c);
    totalFetched += fetched;
    totalMinimum += minimum.bytes;
    totalRequests += seen.length;
    latencies.push(ms);
    if (hasData) {
      withData.tiles += 1;
      withData.fetched += fetched;
      withData.minimum += minimum.bytes;
      withData.requests += seen.length;
      withData.worst = Math.max(withData.worst, fetched / minimum.bytes);
    }
    log(
      `| ${z}/${r}/${c}${hasData ? '' : ' (no data)'} | ${minimum.level} | ${opened.length} / ${opened.reduce((sum, r2) => sum + r2.bytes, 0)} | ${ms.toFixed(1)} | ${seen.length} | ${fetched} | ${minimum.bytes} (${minimum.tiles}) | ${minimum.bytes ? (fetched / minimum.bytes).toFixed(2) : '-'} |`,
    );
  }
  latencies.sort((a, b) => a - b);
  log(`per cold tile: median latency ${percentile(latencies, 0.5).toFixed(1)} ms, ${(totalRequests / tiles.length).toFixed(1)} requests, ${(totalFetched / tiles.length).toFixed(0)} bytes fetched vs ${(totalMinimum / tiles.length).toFixed(0)} minimum`);
  log(`total over ${tiles.length} tiles: fetched ${totalFetched} bytes, minimum ${totalMinimum} bytes (${(totalFetched / totalMinimum).toFixed(2)}x)`);
  log(
    `tiles with data (${withData.tiles}): fetched/minimum ${(withData.fetched / withData.minimum).toFixed(2)}x overall, worst tile ${withData.worst.toFixed(2)}x, ${(withData.requests / withData.tiles).toFixed(1)} requests per tile`,
  );

  staticServer.close();
  await benchAgent.close();
  await app.close();
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

