import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fromArrayBuffer } from 'geotiff';
import proj4 from 'proj4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { jsonSchemaOf } from '../src/processes/descriptions.js';
import { generationParamsSchema } from '../src/generation/params.js';
import type { GenerationParams } from '../src/generation/types.js';
import { S3ObjectStore } from '../src/jobs/s3-objects.js';
import { createModelRuntime, type ModelRuntime } from '../src/model/index.js';
import { COG_MEDIA_TYPE } from '../src/render/cog.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { validateCog } from './helpers/cog-validate.js';
import { hasGdal } from './helpers/gdal.js';
import { expectValid, ogcSchemas } from './helpers/ogc-schemas.js';
import { processesSchemas } from './helpers/processes-schemas.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from './helpers/s3.js';
import { slippyTile } from './helpers/tiles.js';

/**
 * terramind-generate end to end: the real chip engine on the committed (random-weight) model package, real
 * fixture chips over loopback HTTP, GDAL (local and /vsicurl/ on the served URLs), OWSLib, s3rver with
 * presigned URLs. Job results are compared with the coverage tiles of the same sources and seed.
 */
const run = promisify(execFile);
const CHIP = 'terramind-examples/S2L2A/38D_378R_2_3.tif';
const PARAMS = { seed: 7, timesteps: 2 };

let model: ModelRuntime;
let app: TestApp;
let dir: string;
let source: string;
const S = () => processesSchemas();
const jsonOf = (response: Response): Promise<any> => response.json();

beforeAll(async () => {
  model = createModelRuntime(loadConfig({ LOG_LEVEL: 'silent' }));
  // Two chips at a time: chips of one ONNX batch finish together, so progress would jump 0 -> 95 with one batch.
  app = await startTestApp({ model, env: { JOB_MAX_CHIPS: '6', JOB_HEARTBEAT_MS: '200', JOB_STALE_MS: '2000', GENERATION_CONCURRENCY: '2' } });
  source = `${app.fixtures.url}/${CHIP}`;
  dir = await mkdtemp(join(tmpdir(), 'tmogc-generate-'));
});
afterAll(async () => {
  await app?.close();
  await model?.close();
  await rm(dir, { recursive: true, force: true });
});

async function waitFor(location: string, done: (status: any) => boolean, seen: any[] = [], ms = 120_000): Promise<any> {
  const end = Date.now() + ms;
  for (;;) {
    const status = await jsonOf(await fetch(location));
    seen.push(status);
    if (done(status)) return status;
    if (Date.now() > end) throw new Error(`job ${location} still ${status.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const finished = (status: any) => ['successful', 'failed', 'dismissed'].includes(status.status);

/** The generation parameters the test requests use, defaults filled in. */
function params(): GenerationParams {
  return { ...generationParamsSchema(model.pkg).parse({}), ...PARAMS } as GenerationParams;
}

/** POST without following the 303 of a collection output. */
function postCollection(body: unknown): Promise<Response> {
  return fetch(`${app.url}/processes/terramind-generate/execution?response=collection`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), redirect: 'manual' });
}

function inputs(extra: Record<string, unknown> = {}) {
  return { sources: [{ modality: 'S2L2A', href: source }], ...PARAMS, ...extra };
}

async function gdalinfo(path: string): Promise<any> {
  return JSON.parse((await run('gdalinfo', ['-json', path], { timeout: 60_000 })).stdout);
}

describe('terramind-generate: description', () => {
  it('is listed, with JSON Schemas generated from the zod schemas that validate its inputs', async () => {
    const list = await jsonOf(await app.get('/processes'));
    expect(list.processes.map((p: any) => p.id)).toEqual(['echo', 'terramind-generate']);
    const description = await jsonOf(await app.get('/processes/terramind-generate'));
    expectValid(S().process, description, 'terramind-generate');
    expect(description.title).toMatch(/RANDOM WEIGHTS/);
    expect(Object.keys(description.inputs)).toEqual(['sources', 'generate', 'bbox', 'seed', 'timesteps', 'temperature', 'top_p', 'top_k', 'thinking']);
    const params = generationParamsSchema(model.pkg).shape;
    for (const name of ['seed', 'timesteps', 'temperature', 'top_p', 'top_k', 'thinking'] as const) {
      expect(description.inputs[name].schema).toEqual(jsonSchemaOf(params[name]));
      expect(description.inputs[name].minOccurs).toBe(0);
    }
    // What the zod schema says, by hand: seed an integer 0..2^32-1, default 0; timesteps 1..1000, default the manifest's 10.
    expect(description.inputs.seed.schema).toMatchObject({ type: 'integer', minimum: 0, maximum: 4294967295, default: 0 });
    expect(description.inputs.timesteps.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 10 });
    expect(description.inputs.top_p.schema).toMatchObject({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1 });
    expect(description.inputs.sources.minOccurs).toBe(1);
    expect(description.inputs.sources.schema.items.properties.modality.enum).toEqual(model.pkg.inputs);
    expect(description.inputs.bbox.schema).toMatchObject({ type: 'object', format: 'ogc-bbox', required: ['bbox'] });
    expect(description.inputs.bbox.schema.properties.crs.description).toContain('EPSG:32601-32660');
    expect(Object.keys(description.outputs)).toEqual(model.pkg.outputs);
    expect(description.outputs.LULC.schema).toEqual({ type: 'string', contentMediaType: COG_MEDIA_TYPE, contentEncoding: 'binary' });
    expect(description.outputTransmission).toEqual(['value', 'reference']);
  });
});

describe('terramind-generate: an asynchronous job and its COG', () => {
  let location: string;
  let cogUrl: string;
  let cog: Uint8Array;

  beforeAll(async () => {
    const response = await app.post('/processes/terramind-generate/execution', { inputs: inputs({ generate: ['LULC'] }), response: 'document' }, { prefer: 'respond-async' });
    expect(response.status).toBe(201);
    location = response.headers.get('location')!;
  });

  it('progress moves with the chips done; the status is successful only once the result is complete', async () => {
    const seen: any[] = [];
    const done = await waitFor(location, finished, seen);
    expect(done.status).toBe('successful');
    expectValid(S().statusInfo, done, 'status');
    expect(done.chips).toEqual({ done: 6, total: 6, generated: 6, cached: 0 });
    expect(done.progress).toBe(100);
    const running = seen.filter((s) => s.status === 'running' && s.chips);
    expect(running.some((s) => s.progress > 0 && s.progress < 95), `progress seen: ${seen.map((s) => s.progress)}`).toBe(true);
    for (const status of running) {
      expect(status.progress).toBe(Math.round((95 * status.chips.done) / status.chips.total));
    }
    const progress = seen.map((s) => s.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const results = await jsonOf(await fetch(`${location}/results`));
    expectValid(S().results, results, 'results');
    expect(Object.keys(results)).toEqual(['LULC']);
    expect(results.LULC).toEqual({ href: `${location}/results/LULC`, type: COG_MEDIA_TYPE, title: 'LULC' });
    cogUrl = results.LULC.href;
    const file = await fetch(cogUrl);
    expect(file.headers.get('content-type')).toBe(COG_MEDIA_TYPE);
    expect(file.headers.get('accept-ranges')).toBe('bytes');
    cog = new Uint8Array(await file.arrayBuffer());
    expect(validateCog(cog, { fullCheck: true }).errors).toEqual([]);
  });

  it('is served with byte ranges (206, Content-Range; 416 past the end)', async () => {
    const part = await fetch(cogUrl, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${cog.length}`);
    expect(Array.from(new Uint8Array(await part.arrayBuffer()))).toEqual(Array.from(cog.subarray(100, 200)));
    const suffix = await fetch(cogUrl, { headers: { range: 'bytes=-16' } });
    expect(Array.from(new Uint8Array(await suffix.arrayBuffer()))).toEqual(Array.from(cog.subarray(cog.length - 16)));
    const head = await fetch(cogUrl, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), head.headers.get('accept-ranges')]).toEqual([200, String(cog.length), 'bytes']);
    const beyond = await fetch(cogUrl, { headers: { range: `bytes=${cog.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${cog.length}`);
  });

  it.skipIf(!hasGdal)('gdalinfo, local and through /vsicurl/ on the served URL: COG layout, lattice georeferencing, nodata, palette, metadata', async () => {
    const plan = await app.ctx.engine!.plan({ sources: [{ modality: 'S2L2A', href: source, trusted: false }], params: params() });
    const grid = app.ctx.engine!.latticeGrid(plan, plan.nativeBounds);
    const path = join(dir, 'LULC.tif');
    await writeFile(path, cog);
    for (const info of [await gdalinfo(path), await gdalinfo(`/vsicurl/${cogUrl}`)]) {
      expect(info.metadata.IMAGE_STRUCTURE).toEqual({ COMPRESSION: 'DEFLATE', INTERLEAVE: 'BAND', LAYOUT: 'COG', PREDICTOR: '2' });
      expect(info.size).toEqual([grid.width, grid.height]);
      const [a, , c, , e, f] = grid.transform;
      expect(info.geoTransform).toEqual([c, a, 0, f, 0, e]);
      expect(info.coordinateSystem.wkt).toMatch(new RegExp(`ID\\["EPSG",${plan.lattice.crs.split(':')[1]}\\]\\]$`));
      expect(info.bands[0]).toMatchObject({ type: 'Byte', noDataValue: 255, colorInterpretation: 'Palette', description: 'class' });
      expect(info.metadata['']).toMatchObject({ TERRAMIND_SEED: '7', TERRAMIND_TIMESTEPS: '2', TERRAMIND_OUTPUT: 'LULC', TERRAMIND_MODEL_WEIGHTS: 'random (test output, not a real prediction)' });
    }
    // Pixels read remotely equal the downloaded file's.
    await run('gdal_translate', ['-q', '-of', 'ENVI', `/vsicurl/${cogUrl}`, join(dir, 'remote.raw')]);
    await run('gdal_translate', ['-q', '-of', 'ENVI', path, join(dir, 'local.raw')]);
    expect(Buffer.compare(await readFile(join(dir, 'remote.raw')), await readFile(join(dir, 'local.raw')))).toBe(0);
  });

  it('values equal the coverage tiles of the same sources and seed, which the job has already warmed', async () => {
    const tiff = await fromArrayBuffer(cog.buffer.slice(cog.byteOffset, cog.byteOffset + cog.byteLength) as ArrayBuffer);
    const image = await tiff.getImage();
    const [classes] = (await image.readRasters()) as unknown as Uint8Array[];
    const [ox, oy] = image.getOrigin();
    const crs = `EPSG:${image.getGeoKeys()!.ProjectedCSTypeGeoKey}`;
    const [west, south, east, north] = image.getBoundingBox();
    const [lon, lat] = proj4(crs, 'EPSG:4326', [(west + east) / 2, (south + north) / 2]);
    const [row, col] = slippyTile(lon, lat, 16);
    const generatedBefore = app.ctx.engine!.stats().generated;
    const tile = await fetch(`${app.url}/collections/LULC/coverage/tiles/WebMercatorQuad/16/${row}/${col}?S2L2A=${encodeURIComponent(source)}&seed=7&timesteps=2`);
    expect(tile.status).toBe(200);
    expect(app.ctx.engine!.stats().generated).toBe(generatedBefore);
    const tileImage = await (await fromArrayBuffer(await tile.arrayBuffer())).getImage();
    const [values] = (await tileImage.readRasters()) as unknown as Float32Array[];
    const [tx, ty] = tileImage.getOrigin();
    const [rx, ry] = tileImage.getResolution();
    let compared = 0;
    for (let r = 0; r < 256; r += 3) {
      for (let k = 0; k < 256; k += 3) {
        if (Number.isNaN(values[r * 256 + k])) continue;
        const [x, y] = proj4('EPSG:3857', crs, [tx + (k + 0.5) * rx, ty + (r + 0.5) * ry]);
        const u = (x - ox) / 10;
        const v = (oy - y) / 10;
        // Away from lattice pixel edges: the tile warp's coordinates are exact to 1/8 pixel.
        if (Math.abs(u - Math.round(u)) < 0.2 || Math.abs(v - Math.round(v)) < 0.2) continue;
        const value = classes[Math.floor(v) * image.getWidth() + Math.floor(u)];
        if (value === 255) continue;
        expect(values[r * 256 + k], `tile pixel ${r},${k}`).toBe(value);
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(500);
  });

  it('a request silent on outputs and response: every output by reference, raw: 204 with a Link header', async () => {
    const response = await app.post('/processes/terramind-generate/execution', { inputs: inputs({ generate: ['LULC'] }) });
    expect(response.status).toBe(204);
    const link = response.headers.get('link')!;
    expect(link).toMatch(new RegExp(`^<${app.url}/jobs/[0-9a-z]{11}-[0-9a-f]{12}/results/LULC>; rel="http://www.opengis.net/def/rel/ogc/1.0/results"; type="${COG_MEDIA_TYPE}"; title="LULC"$`));
    const bytes = new Uint8Array(await (await fetch(link.slice(1, link.indexOf('>')))).arrayBuffer());
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(cog))).toBe(0);
  });

  it('a source named by a configured collection URL (a sample) reads that collection\'s own file: the same pixels', async () => {
    const response = await app.post('/processes/terramind-generate/execution', {
      inputs: { ...inputs({ generate: ['LULC'] }), sources: [{ modality: 'S2L2A', href: `${app.url}/collections/tanzania-s2l2a` }] },
      outputs: { LULC: { transmissionMode: 'value' } },
      response: 'raw',
    });
    expect(response.status).toBe(200);
    const pixels = async (bytes: ArrayBuffer) => ((await (await (await fromArrayBuffer(bytes)).getImage()).readRasters()) as unknown as Uint8Array[])[0];
    const sample = await pixels(await response.arrayBuffer());
    expect(Buffer.compare(Buffer.from(sample), Buffer.from(await pixels(cog.slice().buffer as ArrayBuffer)))).toBe(0);
  });

  it('a synchronous raw execution of the same request gives the same bytes', async () => {
    const response = await app.post('/processes/terramind-generate/execution', { inputs: inputs({ generate: ['LULC'] }), outputs: { LULC: { transmissionMode: 'value' } }, response: 'raw' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(COG_MEDIA_TYPE);
    expect(Buffer.compare(Buffer.from(await response.arrayBuffer()), Buffer.from(cog))).toBe(0);
  });
});

describe('terramind-generate: float outputs, bbox in other CRSs', () => {
  it('a DEM job over a bbox in CRS84: float32 with the floating-point predictor, cut to the bbox, equal to the coverage tile within the warp tolerance', async () => {
    const engine = app.ctx.engine!;
    const plan = await engine.plan({ sources: [{ modality: 'S2L2A', href: source, trusted: false }], params: params() });
    const [w, s, e, n] = plan.bounds;
    const bbox = [w + (e - w) * 0.1, s + (n - s) * 0.1, w + (e - w) * 0.6, s + (n - s) * 0.6];
    const response = await app.post('/processes/terramind-generate/execution', {
      inputs: inputs({ generate: ['DEM'], bbox: { bbox, crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' } }),
      outputs: { DEM: { transmissionMode: 'value' } },
      response: 'raw',
    });
    expect(response.status).toBe(200);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(validateCog(bytes, { fullCheck: true }).errors).toEqual([]);
    const image = await (await fromArrayBuffer(bytes.buffer as ArrayBuffer)).getImage();
    const projected = proj4Bounds(bbox, plan.lattice.crs);
    const native = plan.nativeBounds;
    const cut: [number, number, number, number] = [Math.max(projected[0], native[0]), Math.max(projected[1], native[1]), Math.min(projected[2], native[2]), Math.min(projected[3], native[3])];
    const expected = engine.latticeGrid(plan, cut);
    expect([image.getWidth(), image.getHeight()]).toEqual([expected.width, expected.height]);
    expect(image.getOrigin()).toEqual([expected.transform[2], expected.transform[5], 0]);
    const [dem] = (await image.readRasters()) as unknown as Float32Array[];
    expect(image.getGDALNoData()).toBeNaN();

    const [ox, oy] = image.getOrigin();
    const width = image.getWidth();
    const [lon, lat] = proj4(plan.lattice.crs, 'EPSG:4326', [ox + (width * 10) / 2, oy - (image.getHeight() * 10) / 2]);
    const [row, col] = slippyTile(lon, lat, 16);
    const tile = await fetch(`${app.url}/collections/DEM/coverage/tiles/WebMercatorQuad/16/${row}/${col}?S2L2A=${encodeURIComponent(source)}&seed=7&timesteps=2`);
    const tileImage = await (await fromArrayBuffer(await tile.arrayBuffer())).getImage();
    const [values] = (await tileImage.readRasters()) as unknown as Float32Array[];
    const [tx, ty] = tileImage.getOrigin();
    const [rx, ry] = tileImage.getResolution();
    let compared = 0;
    for (let r = 8; r < 248; r += 5) {
      for (let k = 8; k < 248; k += 5) {
        const [x, y] = proj4('EPSG:3857', plan.lattice.crs, [tx + (k + 0.5) * rx, ty + (r + 0.5) * ry]);
        // Bilinear at the point, pixel centres at +0.5, as the tile's warp samples (src/raster/warp.ts).
        const u = (x - ox) / 10 - 0.5;
        const v = (oy - y) / 10 - 0.5;
        const c0 = Math.floor(u);
        const r0 = Math.floor(v);
        if (c0 < 1 || r0 < 1 || c0 + 2 >= width || r0 + 2 >= image.getHeight()) continue;
        const at = (rr: number, cc: number) => dem[rr * width + cc];
        const corners = [at(r0, c0), at(r0, c0 + 1), at(r0 + 1, c0), at(r0 + 1, c0 + 1)];
        if (corners.some(Number.isNaN) || Number.isNaN(values[r * 256 + k])) continue;
        const fu = u - c0;
        const fv = v - r0;
        const bilinear = (1 - fv) * ((1 - fu) * corners[0] + fu * corners[1]) + fv * ((1 - fu) * corners[2] + fu * corners[3]);
        // The warp's coordinates are exact to 1/8 pixel: the value may move by 1/8 of the local difference.
        const slack = 0.125 * (Math.max(...corners) - Math.min(...corners)) + 1e-3;
        expect(Math.abs(values[r * 256 + k] - bilinear), `tile pixel ${r},${k}`).toBeLessThanOrEqual(slack);
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('a bbox in EPSG:3857 and in the lattice UTM zone select the same grid as CRS84 does', async () => {
    const engine = app.ctx.engine!;
    const plan = await engine.plan({ sources: [{ modality: 'S2L2A', href: source, trusted: false }], params: params() });
    const [minx, miny, maxx, maxy] = plan.nativeBounds;
    const utm = [minx + 300, miny + 300, minx + 1200, miny + 900];
    const submit = async (bbox: number[], crs: string) => {
      const response = await app.post('/processes/terramind-generate/execution', { inputs: inputs({ generate: ['LULC'], bbox: { bbox, crs } }), response: 'document' }, { prefer: 'respond-async' });
      expect(response.status).toBe(201);
      return (await app.ctx.jobs.repository.read(response.headers.get('location')!.split('/').pop()!))!.inputs.area;
    };
    const inUtm = await submit(utm, `http://www.opengis.net/def/crs/EPSG/0/${plan.lattice.crs.split(':')[1]}`);
    expect(inUtm).toMatchObject({ crs: plan.lattice.crs, width: 91, height: 61 });
    const mercator = proj4Bounds(utm, 'EPSG:3857', plan.lattice.crs);
    const inMercator = await submit(mercator, 'EPSG:3857');
    // A box transformed to another CRS and back only grows (its edges are curves there): never smaller.
    expect((inMercator as any).width).toBeGreaterThanOrEqual(91);
    expect((inMercator as any).height).toBeGreaterThanOrEqual(61);
  });
});

describe('terramind-generate: collection output', () => {
  it('one output: 303 to /collections/{id}, the same id for the same request from another instance; the collection resolves everywhere', async () => {
    const body = { inputs: inputs({ generate: ['LULC'] }) };
    const first = await postCollection(body);
    expect(first.status).toBe(303);
    const location = first.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${app.url}/collections/tm-lulc-[0-9a-f]{24}$`));
    const again = await postCollection({ inputs: { ...inputs({ generate: ['LULC'] }), temperature: 1 } });
    expect(again.headers.get('location')).toBe(location);

    const collection = await jsonOf(await fetch(location, { headers: { accept: 'application/json' } }));
    expectValid(ogcSchemas().collectionInfo, collection, 'collection');
    expect(collection.title).toMatch(/RANDOM WEIGHTS.*collection output of process terramind-generate/);
    expect(collection.generatedBy).toMatchObject({ sources: [{ modality: 'S2L2A', href: source }], parameters: { seed: 7, timesteps: 2 } });
    const workflow = collection.links.find((l: any) => l.rel === 'http://www.opengis.net/def/rel/ogc/1.0/workflow');
    const request = await jsonOf(await fetch(workflow.href));
    const replay = await postCollection(request);
    expect(replay.headers.get('location')).toBe(location);

    // Another instance over the same job store knows the collection.
    const other = await startTestApp({ model, jobStore: app.ctx.jobs.repository.store, allowHosts: [new URL(app.fixtures.url).host] });
    try {
      const id = location.split('/').pop()!;
      const there = await other.get(`/collections/${id}`, { accept: 'application/json' });
      expect(there.status).toBe(200);
      expect((await jsonOf(there)).id).toBe(id);
      // Its coverage tile is the ad hoc generated collection's, byte for byte.
      const [w, s, e, n] = collection.extent.spatial.bbox[0];
      const [row, col] = slippyTile((w + e) / 2, (s + n) / 2, 16);
      const tile = await other.get(`/collections/${id}/coverage/tiles/WebMercatorQuad/16/${row}/${col}`);
      const adHoc = await app.get(`/collections/LULC/coverage/tiles/WebMercatorQuad/16/${row}/${col}?S2L2A=${encodeURIComponent(source)}&seed=7&timesteps=2`);
      expect(tile.status).toBe(200);
      expect(Buffer.compare(Buffer.from(await tile.arrayBuffer()), Buffer.from(await adHoc.arrayBuffer()))).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('several outputs: a document linking one collection per output; a bbox is refused', async () => {
    const several = await postCollection({ inputs: inputs({ generate: ['LULC', 'DEM'] }) });
    expect(several.status).toBe(200);
    const document = await jsonOf(several);
    expect(Object.keys(document)).toEqual(['LULC', 'DEM']);
    expect(document.DEM.href).toMatch(/\/collections\/tm-dem-[0-9a-f]{24}$/);
    expect((await fetch(document.DEM.href, { headers: { accept: 'application/json' } })).status).toBe(200);
    const boxed = await postCollection({ inputs: inputs({ generate: ['LULC'], bbox: { bbox: [0, 0, 1, 1] } }) });
    expect(boxed.status).toBe(400);
    expect((await jsonOf(boxed)).detail).toMatch(/^inputs\.bbox: a collection output covers/);
    expect((await app.get('/collections/tm-lulc-000000000000000000000000')).status).toBe(404);
  });
});

describe('terramind-generate: clients and stores', () => {
  it('OWSLib lists, describes, executes sync and async, polls and downloads the COG', async () => {
    const script = fileURLToPath(new URL('./clients/owslib_processes.py', import.meta.url));
    const { stdout } = await run('/usr/bin/python3', [script, app.url, 'terramind-generate', JSON.stringify(inputs({ generate: ['LULC'] })), dir], { timeout: 120_000 });
    const summary = JSON.parse(stdout);
    expect(summary.processes).toContain('terramind-generate');
    expect(summary.inputs).toContain('bbox');
    expect(summary.sync.status).toBe(200);
    expect(summary.sync.body.LULC.type).toBe(COG_MEDIA_TYPE);
    expect(summary.async.status).toBe(201);
    expect(summary.async.seen.at(-1)).toBe('successful');
    expect(summary.downloads.LULC.type).toBe(COG_MEDIA_TYPE);
    const bytes = new Uint8Array(await readFile(summary.downloads.LULC.path));
    expect(validateCog(bytes, { fullCheck: true }).errors).toEqual([]);
  });

  describe('an S3 job store with RESULTS_PRESIGN', () => {
    let s3: S3Fixture;
    let store: S3ObjectStore;
    let s3app: TestApp;
    beforeAll(async () => {
      s3 = await startS3({ bucket: 'jobs' });
      store = new S3ObjectStore({ bucket: 'jobs', prefix: 'processes', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      s3app = await startTestApp({ model, jobStore: store, env: { RESULTS_PRESIGN: 'true', RESULTS_PRESIGN_SECONDS: '600' } });
    });
    afterAll(async () => {
      await s3app?.close();
      store?.destroy();
      await s3?.stop();
    });

    it('results link presigned URLs that GDAL reads as a COG; the service URL serves the same bytes', async () => {
      const response = await s3app.post('/processes/terramind-generate/execution', { inputs: { ...inputs({ generate: ['LULC'] }), sources: [{ modality: 'S2L2A', href: `${s3app.fixtures.url}/${CHIP}` }] }, response: 'document' });
      expect(response.status).toBe(200);
      const results = await jsonOf(response);
      expect(results.LULC.href).toMatch(new RegExp(`^${s3.endpoint}/jobs/processes/jobs/[0-9a-z-]+/results/LULC\\.tif\\?.*X-Amz-Signature=`));
      const presigned = new Uint8Array(await (await fetch(results.LULC.href)).arrayBuffer());
      expect(validateCog(presigned, { fullCheck: true }).errors).toEqual([]);
      if (hasGdal) expect((await gdalinfo(`/vsicurl/${results.LULC.href}`)).metadata.IMAGE_STRUCTURE.LAYOUT).toBe('COG');
      const jobId = results.LULC.href.split('/jobs/processes/jobs/')[1].split('/')[0];
      const served = new Uint8Array(await (await s3app.get(`/jobs/${jobId}/results/LULC`, { range: 'bytes=0-1023' })).arrayBuffer());
      expect(Array.from(served)).toEqual(Array.from(presigned.subarray(0, 1024)));
    });
  });
});

function proj4Bounds(bbox: number[], to: string, from = 'EPSG:4326'): [number, number, number, number] {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i <= 20; i++) {
    for (let j = 0; j <= 20; j++) {
      const [x, y] = proj4(from, to, [bbox[0] + ((bbox[2] - bbox[0]) * i) / 20, bbox[1] + ((bbox[3] - bbox[1]) * j) / 20]);
      xs.push(x);
      ys.push(y);
    }
  }
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

