import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCacheStore } from '../src/cache/file-store.js';
import { chipsCovering, latticeWindow, windowForTarget, chipWindow } from '../src/generation/lattice.js';
import { parseGenerationQuery } from '../src/generation/params.js';
import { tileGrid } from '../src/grid/tiles.js';
import { getTileMatrixSet } from '../src/grid/tms.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { FIXTURES, startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { slippyTile } from './helpers/tiles.js';


/** Generation on 2 shared cores: a tile of a 12-band output takes seconds, more under load. */
const GENERATION_TIMEOUT = 300_000;
/**
 * Chip accounting, determinism and bounded work of the chip engine, counted from the model runtime's own ONNX
 * runs: every LULC chip runs the LULC class decoder exactly once, so its rows are the chips generated.
 */
const CHIP_CENTRE: [number, number] = [34.066031, -3.401355];
const LULC_DECODER = 'decoder_LULC.onnx';
const tms = getTileMatrixSet('WebMercatorQuad');

function counter() {
  const rows = new Map<string, number>();
  return {
    onRun: (part: string, n: number) => rows.set(part, (rows.get(part) ?? 0) + n),
    rows: (part: string) => rows.get(part) ?? 0,
  };
}

const chipUrl = (app: TestApp) => `${app.fixtures.url}/terramind-examples/S2L2A/38D_378R_2_3.tif`;
const q = (app: TestApp, params: Record<string, string | number> = {}) =>
  [`S2L2A=${encodeURIComponent(chipUrl(app))}`, ...Object.entries({ timesteps: 1, ...params }).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)].join('&');

/** The z16 tiles over the example chip, as [row, col]. */
function tilesOverChip(z: number): [number, number][] {
  const [r0, c0] = slippyTile(34.0560, -3.3913, z);
  const [r1, c1] = slippyTile(34.0761, -3.4114, z);
  const tiles: [number, number][] = [];
  for (let r = r0; r <= r1; r += 1) for (let c = c0; c <= c1; c += 1) tiles.push([r, c]);
  return tiles;
}

/** The chips a set of tiles needs, from the lattice definitions: those covering each tile's window that meet the input. */
async function expectedChips(app: TestApp, z: number, tiles: [number, number][]): Promise<Set<string>> {
  const params = parseGenerationQuery(app.ctx.engine!.pkg, { timesteps: '1' });
  const plan = await app.ctx.engine!.plan({ sources: [{ modality: 'S2L2A', href: chipUrl(app), trusted: false }], params });
  const footprint = latticeWindow(plan.lattice, plan.nativeBounds);
  const matrix = tms.definition.tileMatrices[z]!;
  const chips = new Set<string>();
  for (const [row, col] of tiles) {
    for (const chip of chipsCovering(windowForTarget(plan.lattice, tileGrid(tms, matrix, row, col))!)) {
      const w = chipWindow(chip);
      if (w.col0 < footprint.col1 && w.col1 > footprint.col0 && w.row0 < footprint.row1 && w.row1 > footprint.row0) chips.add(`${chip.i},${chip.j}`);
    }
  }
  return chips;
}

describe('chip accounting', { timeout: GENERATION_TIMEOUT }, () => {
  let app: TestApp;
  const runs = counter();
  beforeAll(async () => {
    app = await startTestApp({ model: true, onRun: runs.onRun });
  });
  afterAll(() => app?.close());

  it('a burst of tiles generates exactly the chips of its area, each once; a second burst generates none', async () => {
    const tiles = tilesOverChip(16);
    const expected = await expectedChips(app, 16, tiles);
    expect(tiles.length).toBeGreaterThanOrEqual(6);
    // The example chip covers lattice columns [61730, 61954) and rows [962285, 962509): chips i = 321, 322 and
    // j = 5011, 5012, 5013 (chip 5013 starts at row 962496, 13 rows below the chip's top).
    expect([...expected].sort()).toEqual(['321,5011', '321,5012', '321,5013', '322,5011', '322,5012', '322,5013']);
    const before = runs.rows(LULC_DECODER);
    const responses = await Promise.all(tiles.map(([r, c]) => app.get(`/collections/LULC/map/tiles/WebMercatorQuad/16/${r}/${c}?${q(app)}`)));
    expect(responses.map((r) => r.status)).toEqual(tiles.map(() => 200));
    expect(responses.map((r) => r.headers.get('x-cache'))).toEqual(tiles.map(() => 'miss'));
    expect(runs.rows(LULC_DECODER) - before).toBe(expected.size);

    // The same area as WebP map tiles and as coverage tiles: new tiles, no new chips.
    const again = await Promise.all([
      ...tiles.map(([r, c]) => app.get(`/collections/LULC/map/tiles/WebMercatorQuad/16/${r}/${c}?${q(app)}&f=webp`)),
      ...tiles.map(([r, c]) => app.get(`/collections/LULC/coverage/tiles/WebMercatorQuad/16/${r}/${c}?${q(app)}`)),
    ]);
    expect(again.every((r) => r.status === 200)).toBe(true);
    expect(runs.rows(LULC_DECODER) - before).toBe(expected.size);
    // The engine says where each chip came from: generated once, then from memory.
    const metrics = await (await app.get('/metrics')).text();
    expect(metrics).toMatch(new RegExp(`tmogc_generation_chips_total\\{origin="generated",output="LULC"\\} ${expected.size}\\b`));
  });
});

describe('determinism', { timeout: GENERATION_TIMEOUT }, () => {
  let a: TestApp;
  let b: TestApp;
  const runsB = counter();
  beforeAll(async () => {
    // Two services with their own runtime and cache, as two fresh processes would be; both read the inputs from
    // the first one's fixture server, so their sources are the same URLs.
    a = await startTestApp({ model: true });
    b = await startTestApp({ model: true, onRun: runsB.onRun, allowHosts: [new URL(a.fixtures.url).host] });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  const body = async (app: TestApp, path: string) => {
    const response = await app.get(path);
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  };

  it('the same seed gives the same bytes in two services; another seed and thinking change them', async () => {
    const [row, col] = slippyTile(...CHIP_CENTRE, 16);
    const path = (app: TestApp, params: Record<string, string | number>) => `/collections/DEM/coverage/tiles/WebMercatorQuad/16/${row}/${col}?${q(app, params)}`;
    const same = { seed: 5 };
    const one = await body(a, path(a, same));
    const two = await body(b, path(a, same));
    expect(two.equals(one)).toBe(true);
    const otherSeed = await body(a, path(a, { seed: 6 }));
    expect(otherSeed.equals(one)).toBe(false);
    const thinking = await body(a, path(a, { seed: 5, thinking: 'LULC' }));
    expect(thinking.equals(one)).toBe(false);
  });

  it('a tile requested alone equals the same tile requested in a burst with its neighbours', async () => {
    const tiles = tilesOverChip(16);
    const [row, col] = tiles[Math.floor(tiles.length / 2)]!;
    const path = (r: number, c: number) => `/collections/DEM/coverage/tiles/WebMercatorQuad/16/${r}/${c}?${q(a, { seed: 11 })}`;
    const alone = await body(a, path(row, col));
    const before = runsB.rows('unet_DEM.onnx');
    const burst = await Promise.all(tiles.map(([r, c]) => body(b, path(r, c))));
    // The burst's chips were generated concurrently (stacked runs), and the tile is still byte-identical.
    expect(runsB.rows('unet_DEM.onnx') - before).toBeGreaterThan(1);
    expect(burst[tiles.findIndex(([r, c]) => r === row && c === col)]!.equals(alone)).toBe(true);
  });
});

describe('bounded work', { timeout: GENERATION_TIMEOUT }, () => {
  let app: TestApp;
  const runs = counter();
  beforeAll(async () => {
    app = await startTestApp({ model: true, onRun: runs.onRun, env: { GENERATION_QUEUE_MAX: '1', GENERATION_CONCURRENCY: '1' } });
  });
  afterAll(() => app?.close());

  it('answers 503 with Retry-After when the generation queue is full, and caches nothing from it', async () => {
    const tiles = tilesOverChip(16).slice(0, 4);
    const path = ([r, c]: [number, number]) => `/collections/LULC/map/tiles/WebMercatorQuad/16/${r}/${c}?${q(app, { seed: 21 })}`;
    const responses = await Promise.all(tiles.map((tile) => app.get(path(tile))));
    const refused = responses.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    const exception = (await refused[0]!.json()) as { type: string; detail: string };
    expect(exception.detail).toMatch(/generation queue is full.*GENERATION_QUEUE_MAX=1/);
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Asked again one at a time, every tile is produced now (the 503 was not cached).
    for (const tile of tiles) {
      const response = await app.get(path(tile));
      expect(response.status).toBe(200);
    }
  });

  it('stops waiting when the client goes away: chips nobody waits for are never generated', async () => {
    const [row, col] = slippyTile(...CHIP_CENTRE, 15);
    const before = runs.rows(LULC_DECODER);
    const controller = new AbortController();
    const pending = app.get(`/collections/LULC/map/tiles/WebMercatorQuad/15/${row}/${col}?${q(app, { seed: 31 })}`, {}, controller.signal).catch((e: unknown) => e);
    // Let the first chip start (concurrency 1), then disconnect.
    const deadline = Date.now() + 20_000;
    while (app.ctx.engine!.stats().running === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await pending;
    while (app.ctx.engine!.stats().running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const stats = app.ctx.engine!.stats();
    expect(stats.queued).toBe(0);
    // The tile needs 4 chips; with one generated at a time only the one already running was finished.
    expect(runs.rows(LULC_DECODER) - before).toBe(1);
  });
});

describe('generation deadline', { timeout: GENERATION_TIMEOUT }, () => {
  let app: TestApp;
  const runs = counter();
  beforeAll(async () => {
    app = await startTestApp({ model: true, onRun: runs.onRun, env: { GENERATION_TIMEOUT_MS: '50' } });
  });
  afterAll(() => app?.close());

  it('answers 504 past GENERATION_TIMEOUT_MS, goes on generating, and serves the tile from those chips next time', async () => {
    const [row, col] = slippyTile(...CHIP_CENTRE, 16);
    const path = `/collections/LULC/map/tiles/WebMercatorQuad/16/${row}/${col}?${q(app, { seed: 41 })}`;
    const first = await app.get(path);
    expect(first.status).toBe(504);
    expect(((await first.json()) as { detail: string }).detail).toMatch(/GENERATION_TIMEOUT_MS=50 ms; they go on being generated/);
    const deadline = Date.now() + 60_000;
    const idle = () => app.ctx.engine!.stats().running === 0 && app.ctx.engine!.stats().queued === 0 && app.ctx.cache.inflightCount === 0;
    while (!idle() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const made = runs.rows(LULC_DECODER);
    expect(made).toBeGreaterThan(0);
    const second = await app.get(path);
    expect(second.status).toBe(200);
    // The first request's work finished after its 504: nothing is generated again.
    expect(runs.rows(LULC_DECODER)).toBe(made);
  });
});

describe('failures are never cached', { timeout: GENERATION_TIMEOUT }, () => {
  let app: TestApp;
  let broken: FixtureServer;
  let cacheDir: string;
  let inputsDir: string;
  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'tmogc-chipcache-'));
    inputsDir = await mkdtemp(join(tmpdir(), 'tmogc-broken-'));
    // The example chip cut short: its header (and so the plan) is fine, its pixels are not all there.
    const bytes = await readFile(`${FIXTURES}terramind-examples/S2L2A/38D_378R_2_3.tif`);
    await writeFile(join(inputsDir, 'truncated.tif'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    broken = await startFixtureServer(inputsDir);
    app = await startTestApp({ model: true, cacheStore: new FileCacheStore(cacheDir), allowHosts: [new URL(broken.url).host] });
  });
  afterAll(async () => {
    await app?.close();
    await broken?.close();
    await rm(cacheDir, { recursive: true, force: true });
    await rm(inputsDir, { recursive: true, force: true });
  });

  it('a chip whose input cannot be read fails the tile with 502 and leaves no chip or tile in the store', async () => {
    const [row, col] = slippyTile(...CHIP_CENTRE, 16);
    const source = encodeURIComponent(`${broken.url}/truncated.tif`);
    const response = await app.get(`/collections/DEM/map/tiles/WebMercatorQuad/16/${row}/${col}?S2L2A=${source}&timesteps=1`);
    const exception = (await response.json()) as { status: number; detail: string };
    expect(response.status, JSON.stringify(exception)).toBe(502);
    expect(exception.detail).toMatch(/truncated\.tif/);
    const files = await readdir(cacheDir, { recursive: true });
    expect(files.filter((f) => /\.(tmchip|png)$/.test(String(f)))).toEqual([]);
  });
});
