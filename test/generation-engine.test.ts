import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCacheStore } from '../src/cache/memory-store.js';
import type { CacheStore } from '../src/cache/store.js';
import { readGeoTiffRaster } from '../src/cli/read-input.js';
import { loadConfig } from '../src/config.js';
import { OgcError } from '../src/errors.js';
import { WindowBlender } from '../src/generation/blend.js';
import { decodeChip, encodeChip } from '../src/generation/chip-codec.js';
import { generateChip } from '../src/generation/chip-generator.js';
import { createChipEngine, type ChipEngineSettings, type ReadOrigin, type SourceOpening } from '../src/generation/engine.js';
import { chipsCovering, latticeWindow, windowGrid, type LatticeWindow } from '../src/generation/lattice.js';
import { parseGenerationQuery } from '../src/generation/params.js';
import type { ChipProgress, GenerationParams, GenerationPlan, GenerationSource } from '../src/generation/types.js';
import type { Modality } from '../src/modalities.js';
import { createModelRuntime, type ModelRuntime } from '../src/model/runtime.js';
import { createGuardedFetch } from '../src/net/guarded-fetch.js';
import type { Grid, Raster } from '../src/raster/raster.js';
import { encodeGeoTiff } from '../src/render/geotiff.js';
import { createSourceOpener, type SourceOpener } from '../src/sources/open.js';
import { FIXTURES, startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { expectSameValues } from './helpers/same-values.js';

/**
 * The chip engine's orchestration (src/generation/engine.ts) with the real runtime, opener and store: plans, which
 * chips a read takes, where it gets each one, and how it puts them together. The oracle for pixels is the chip
 * blend done here from chips generated one by one (generateChip, through the codec as the engine stores them) and
 * the blend's own hand-checked weights (test/generation-units.test.ts), and resampling computed here by formula.
 *
 * The example chip 38D_378R_2_3 covers lattice columns [61730, 61954) and rows [962285, 962509) of the lattice
 * EPSG:32736 with phase (1.819878, 8.227452); chips (i, j) span columns [192 i, 192 i + 224) and rows
 * [192 j, 192 j + 224), so six chips meet it: i = 321, 322 and j = 5011, 5012, 5013.
 */
const EXAMPLE = '38D_378R_2_3.tif';
const FOOTPRINT: LatticeWindow = { col0: 61730, row0: 962285, col1: 61954, row1: 962509 };
/** Inside chip (321, 5012) where no other chip reaches (its own columns [61664, 61824), rows [962336, 962496)). */
const ONE_CHIP: LatticeWindow = { col0: 61740, row0: 962400, col1: 61800, row1: 962460 };
/** Inside chip (322, 5011) alone. */
const OTHER_CHIP: LatticeWindow = { col0: 61870, row0: 962288, col1: 61900, row1: 962300 };
/** The northern two rows of chips (j = 5012, 5013), four chips. */
const NORTH: LatticeWindow = { col0: 61730, row0: 962400, col1: 61954, row1: 962509 };

let runtime: ModelRuntime;
let opener: SourceOpener;
let fixtures: FixtureServer;
let dir: string;
let params: GenerationParams;
const s2File = pathToFileURL(join(FIXTURES, 'terramind-examples/S2L2A', EXAMPLE)).href;
let s2Http: string;
/** The DEM's eastern 56 columns (lattice columns [61898, 61954): chips i = 322 only). */
let eastDem: string;
/**
 * DEM crops whose footprint edges fall exactly on chip edges once the CRS84 round trip has widened them by a
 * fraction of a pixel: `touching` spans lattice columns [61730, 61823) and rows [962337, 962495), so its footprint
 * [61729, 61824) x [962336, 962496) only touches chips i = 322, j = 5011 and j = 5013; `westTouching` starts at
 * column 61857, so its footprint starts at 61856, where chip i = 321 ends.
 */
let touchingDem: string;
let westTouchingDem: string;
/** The DEM 50 km east and 50 km north: no overlap with the S2 chip. */
let farDem: string;
let northDem: string;

beforeAll(async () => {
  runtime = createModelRuntime(loadConfig({ LOG_LEVEL: 'silent' }));
  params = parseGenerationQuery(runtime.pkg, { timesteps: '1' });
  fixtures = await startFixtureServer();
  s2Http = `${fixtures.url}/terramind-examples/S2L2A/${EXAMPLE}`;
  opener = createSourceOpener({ fetch: createGuardedFetch({ allowHosts: [new URL(fixtures.url).host], timeoutMs: 10_000, maxBytes: 64 * 1024 * 1024, allowFileUrls: false }) });
  dir = mkdtempSync(join(tmpdir(), 'tmogc-engine-'));
  const dem = await readGeoTiffRaster(join(FIXTURES, 'terramind-examples/DEM', EXAMPLE), 'DEM');
  eastDem = writeRaster('east.tif', crop(dem, { col0: 168 }));
  touchingDem = writeRaster('touching.tif', crop(dem, { col1: 93, row0: 14, row1: 172 }));
  westTouchingDem = writeRaster('west-touching.tif', crop(dem, { col0: 127 }));
  const [a, , c, , e, f] = dem.transform;
  farDem = writeRaster('far.tif', { ...dem, transform: [a, 0, c + 50_000, 0, e, f] });
  northDem = writeRaster('north.tif', { ...dem, transform: [a, 0, c, 0, e, f + 50_000] });
});

afterAll(async () => {
  await runtime?.close();
  await opener?.close();
  await fixtures?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The raster's pixels in columns [col0, col1) and rows [row0, row1) (rows from the north). */
function crop(raster: Raster, { col0 = 0, col1 = raster.width, row0 = 0, row1 = raster.height }: Partial<LatticeWindow>): Raster {
  const [width, height] = [col1 - col0, row1 - row0];
  const take = <T extends Float32Array | Uint8Array>(values: T): T => {
    const out = new (values.constructor as new (n: number) => T)(width * height);
    for (let row = 0; row < height; row += 1) out.set(values.subarray((row0 + row) * raster.width + col0, (row0 + row) * raster.width + col1), row * width);
    return out;
  };
  const [a, b, c, d, e, f] = raster.transform;
  return { ...raster, width, height, transform: [a, b, c + a * col0, d, e, f + e * row0], bands: raster.bands.map(take), mask: take(raster.mask) };
}

function writeRaster(name: string, raster: Raster): string {
  writeFileSync(join(dir, name), encodeGeoTiff(raster));
  return pathToFileURL(join(dir, name)).href;
}

const trusted = (modality: Modality, href: string): GenerationSource => ({ modality, href, trusted: true });
const untrusted = (modality: Modality, href: string): GenerationSource => ({ modality, href, trusted: false });
const S2 = () => trusted('S2L2A', s2File);

interface EngineSetup {
  store?: CacheStore;
  settings?: Partial<ChipEngineSettings>;
  opener?: SourceOpening;
  runtime?: ModelRuntime;
}

function engineWith(setup: EngineSetup = {}) {
  const chips: { output: Modality; origin: ReadOrigin }[] = [];
  const stages: Record<string, number>[] = [];
  const store = setup.store ?? new MemoryCacheStore(64 * 1024 * 1024);
  const engine = createChipEngine({
    runtime: setup.runtime ?? runtime,
    opener: setup.opener ?? opener,
    store,
    instanceId: 'engine-test',
    onChip: (event) => void chips.push(event),
    onModelStages: (s) => void stages.push(s),
    settings: { queueMax: 64, concurrency: 2, memoryBytes: 64 * 1024 * 1024, leaseTtlMs: 60_000, leaseWaitMs: 1_000, leaseSettleMs: 5, ...setup.settings },
  });
  return { engine, store, chips, stages, origins: () => chips.map((c) => c.origin) };
}

/** The runtime, observed: which chips it is asked to generate, in order (the chip id is the lattice address). */
function observedRuntime() {
  const chipIds: string[] = [];
  let first: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (first = resolve));
  const observed: ModelRuntime = {
    ...runtime,
    generate: (request) => {
      chipIds.push(request.chipId!);
      first();
      return runtime.generate(request);
    },
  };
  return { observed, chipIds, started };
}

const gridOf = (plan: GenerationPlan, window: LatticeWindow) => windowGrid(plan.lattice, window);

/** The blend of a window's chips generated one by one here, each through the codec as the engine keeps it. */
async function blendedByHand(plan: GenerationPlan, window: LatticeWindow, output: Modality, classes = false) {
  const sources = await Promise.all(plan.spec.sources.map(async (s) => ({ modality: s.modality, reader: await opener.open(s.href, s.modality, { trusted: s.trusted }) })));
  const planes = classes ? 10 : runtime.manifest.modalities[output]!.bands.length;
  const blender = new WindowBlender(window, planes);
  for (const chip of chipsCovering(window)) {
    const values = await generateChip(runtime, { lattice: plan.lattice, chip, sources, output, params: plan.spec.params });
    blender.add(chip, decodeChip(encodeChip(values)));
  }
  return blender.finish(classes);
}

async function errorOf(promise: Promise<unknown>, what = 'the call'): Promise<unknown> {
  return promise.then(
    () => expect.fail(`expected ${what} to be refused`),
    (error: unknown) => error,
  );
}

async function badRequestOf(promise: Promise<unknown>): Promise<string> {
  const error = await errorOf(promise);
  expect(error).toBeInstanceOf(OgcError);
  expect((error as OgcError).status).toBe(400);
  return (error as OgcError).detail;
}

describe('plans', () => {
  it('anchor the lattice on the first source in canonical order and cover only the sources\' common footprint', async () => {
    const { engine } = engineWith();
    // DEM named first: Sentinel-2 still anchors the lattice (canonical order), and chips meet only the DEM's east.
    const plan = await engine.plan({ sources: [trusted('DEM', eastDem), S2()], params });
    expect(plan.spec.sources.map((s) => s.modality)).toEqual(['S2L2A', 'DEM']);
    expect(plan.lattice).toEqual({ crs: 'EPSG:32736', resolution: 10, phase: [1.819878, 8.227452] });
    const [s2, dem] = [await opener.open(s2File, 'S2L2A', { trusted: true }), await opener.open(eastDem, 'DEM', { trusted: true })];
    const common = (b: number[]) => [Math.max(s2.bounds[0], b[0]!), Math.max(s2.bounds[1], b[1]!), Math.min(s2.bounds[2], b[2]!), Math.min(s2.bounds[3], b[3]!)];
    expect(plan.bounds).toEqual(common(dem.bounds));
    expect(dem.bounds[0]).toBeGreaterThan(s2.bounds[0]);
    // The touching crop is inside the S2 chip on its south, east and north sides.
    const touching = await opener.open(touchingDem, 'DEM', { trusted: true });
    expect([touching.bounds[1] > s2.bounds[1], touching.bounds[2] < s2.bounds[2], touching.bounds[3] < s2.bounds[3]]).toEqual([true, true, true]);
    expect((await engine.plan({ sources: [S2(), trusted('DEM', touchingDem)], params })).bounds).toEqual(common(touching.bounds));
    // The native footprint lies on the DEM's 56 columns: lattice x from 10 * 61898 + p, y over the whole chip, to
    // within a lattice pixel (the round trip through CRS84 widens a UTM box by a few metres).
    const [p, q] = plan.lattice.phase;
    const expected = [p + 10 * 61898, q + 10 * 962285, p + 10 * 61954, q + 10 * 962509];
    plan.nativeBounds.forEach((value, k) => expect(Math.abs(value - expected[k]!), `nativeBounds[${k}]`).toBeLessThan(10));

    // Of the six chips over the S2 chip, only the three of column i = 322 meet the DEM.
    const alone = await engine.plan({ sources: [S2()], params });
    expect(engine.countChips(alone, gridOf(alone, FOOTPRINT))).toBe(6);
    expect(engine.countChips(plan, gridOf(plan, FOOTPRINT))).toBe(3);
    expect(engine.countChips(plan, gridOf(plan, ONE_CHIP))).toBe(0);
    expect(engine.countChips(alone, gridOf(alone, ONE_CHIP))).toBe(1);
    expect(engine.countChips(alone, gridOf(alone, NORTH))).toBe(4);
    // Over a window 400 pixels wider on every side: still only the chips that meet the footprint, and a chip that
    // only touches it along an edge is not one of them.
    const padded = { col0: FOOTPRINT.col0 - 400, row0: FOOTPRINT.row0 - 400, col1: FOOTPRINT.col1 + 400, row1: FOOTPRINT.row1 + 400 };
    expect(engine.countChips(alone, gridOf(alone, padded))).toBe(6);
    expect(engine.countChips(plan, gridOf(plan, padded))).toBe(3);
    const touchingPlan = await engine.plan({ sources: [S2(), trusted('DEM', touchingDem)], params });
    expect(latticeWindow(touchingPlan.lattice, touchingPlan.nativeBounds)).toEqual({ col0: 61729, row0: 962336, col1: 61824, row1: 962496 });
    expect(engine.countChips(touchingPlan, gridOf(touchingPlan, padded))).toBe(1);
    const westPlan = await engine.plan({ sources: [S2(), trusted('DEM', westTouchingDem)], params });
    expect(latticeWindow(westPlan.lattice, westPlan.nativeBounds).col0).toBe(61856);
    expect(engine.countChips(westPlan, gridOf(westPlan, padded))).toBe(3);
    // A grid on the lattice snapped outward from a bbox in the lattice CRS.
    expect(engine.latticeGrid(alone, [p + 10 * 61740 + 3, q + 10 * 962400, p + 10 * 61800 - 0.5, q + 10 * 962460 + 9])).toEqual(gridOf(alone, { ...ONE_CHIP, row1: 962461 }));
  });

  it('refuse sources that only touch along an edge: nothing lies between them to generate from', async () => {
    // Three 10 x 10 pixel rasters in EPSG:4326 with binary-exact edges (pixels of 2^-10 degrees), as 1-degree DEM
    // tiles meet: a DEM, an NDVI raster east of it and one north of it, sharing an edge exactly.
    const step = 2 ** -10;
    const degrees = (name: string, west: number, north: number, modality: Modality) => {
      const grid: Grid = { crs: 'EPSG:4326', width: 10, height: 10, transform: [step, 0, west, 0, -step, north] };
      return writeRaster(name, { ...grid, bands: [new Float32Array(100).fill(0.5)], bandNames: ['v'], mask: new Uint8Array(100).fill(255), modality });
    };
    const dem = degrees('edge-dem.tif', 34, -3.5, 'DEM');
    const east = degrees('edge-east.tif', 34 + 10 * step, -3.5, 'NDVI');
    const north = degrees('edge-north.tif', 34, -3.5 + 10 * step, 'NDVI');
    const { engine } = engineWith();
    for (const ndvi of [east, north]) {
      const detail = await badRequestOf(engine.plan({ sources: [trusted('DEM', dem), trusted('NDVI', ndvi)], params }));
      expect(detail).toMatch(/^The sources do not overlap, so there is nothing to generate from: DEM covers \[34\.0000, -3\.5098, 34\.0098, -3\.5000\]; NDVI covers /);
    }
  });

  it('refuse sources that are missing, not inputs of the model, or that do not overlap, naming what to change', async () => {
    const { engine } = engineWith();
    expect(await badRequestOf(engine.plan({ sources: [], params }))).toBe(
      'Name at least one source modality. This model takes: S2L2A, S2L1C, S2RGB, S1GRD, S1RTC, DEM, LULC, NDVI.',
    );
    const s2Only: ModelRuntime = { ...runtime, pkg: { ...runtime.pkg, inputs: ['S2L2A', 'S1RTC'] } };
    const narrow = engineWith({ runtime: s2Only }).engine;
    expect(await badRequestOf(narrow.plan({ sources: [S2(), trusted('DEM', eastDem)], params }))).toBe(
      'This model (terramind-v1-test-random) cannot take DEM as an input. It takes: S2L2A, S1RTC.',
    );
    const [s2, far] = [await opener.open(s2File, 'S2L2A', { trusted: true }), await opener.open(farDem, 'DEM', { trusted: true })];
    const listed = (b: number[]) => `[${b.map((v) => v.toFixed(4)).join(', ')}]`;
    expect(await badRequestOf(engine.plan({ sources: [S2(), trusted('DEM', farDem)], params }))).toBe(
      `The sources do not overlap, so there is nothing to generate from: S2L2A covers ${listed(s2.bounds)}; DEM covers ${listed(far.bounds)}.`,
    );
    // Overlapping in longitude, not in latitude.
    const north = await opener.open(northDem, 'DEM', { trusted: true });
    expect(await badRequestOf(engine.plan({ sources: [S2(), trusted('DEM', northDem)], params }))).toBe(
      `The sources do not overlap, so there is nothing to generate from: S2L2A covers ${listed(s2.bounds)}; DEM covers ${listed(north.bounds)}.`,
    );
  });

  it('are made once per spec and trust, and a plan that failed is made again', async () => {
    const { engine } = engineWith();
    const one = await engine.plan({ sources: [S2()], params });
    expect(await engine.plan({ sources: [S2()], params: { ...params } })).toBe(one);
    expect(await engine.plan({ sources: [S2()], params: { ...params, seed: 1 } })).not.toBe(one);
    // The same file:// href from a user is refused, not served from the operator's plan.
    expect(await errorOf(engine.plan({ sources: [untrusted('S2L2A', s2File)], params }), 'a user\'s file:// source')).toBeInstanceOf(OgcError);

    // Trust belongs to each source, whatever order they are named in: the DEM trusted and S2 not is another plan
    // than S2 trusted and the DEM not (where the user's file:// DEM is refused).
    const mixed = await engine.plan({ sources: [trusted('DEM', eastDem), untrusted('S2L2A', s2Http)], params });
    expect(mixed.spec.sources.map((s) => s.trusted)).toEqual([false, true]);
    const swapped = await errorOf(engine.plan({ sources: [trusted('S2L2A', s2Http), untrusted('DEM', eastDem)], params }), 'a user\'s file:// DEM');
    expect(swapped).toBeInstanceOf(OgcError);
    expect((swapped as OgcError).status).toBe(400);

    const later = join(dir, 'later.tif');
    const href = pathToFileURL(later).href;
    expect(await errorOf(engine.plan({ sources: [S2(), trusted('DEM', href)], params }), 'a file not yet written')).toBeInstanceOf(Error);
    writeFileSync(later, encodeGeoTiff(await readGeoTiffRaster(join(FIXTURES, 'terramind-examples/DEM', EXAMPLE), 'DEM')));
    const made = await engine.plan({ sources: [S2(), trusted('DEM', href)], params });
    expect(made.spec.sources.map((s) => s.href)).toEqual([s2File, href]);
  });

  it('stop waiting when the caller aborts, and are still made for the next caller', async () => {
    const { engine } = engineWith();
    const controller = new AbortController();
    const reason = new Error('client left');
    controller.abort(reason);
    expect(await errorOf(engine.plan({ sources: [S2()], params: { ...params, seed: 77 } }, controller.signal))).toBe(reason);
    const plan = await engine.plan({ sources: [S2()], params: { ...params, seed: 77 } });
    expect(plan.spec.params.seed).toBe(77);
  });
});

describe('reads', () => {
  it('refuse outputs the model cannot generate before any work, and plans of another engine', async () => {
    const { observed, chipIds } = observedRuntime();
    const { engine, chips } = engineWith({ runtime: observed });
    const plan = await engine.plan({ sources: [S2()], params });
    const grid = gridOf(plan, ONE_CHIP);
    expect(await badRequestOf(engine.read(plan, [], grid))).toBe('Name at least one output. This model can generate: S2L2A, S1GRD, S1RTC, DEM, LULC, NDVI.');
    expect(await badRequestOf(engine.read(plan, ['DEM', 'S2RGB'], grid))).toBe(
      'This model (terramind-v1-test-random) cannot generate S2RGB. It can generate: S2L2A, S1GRD, S1RTC, DEM, LULC, NDVI.',
    );
    // Not even the DEM chip was started.
    expect(chipIds).toEqual([]);
    expect(chips).toEqual([]);
    const other = engineWith().engine;
    expect(await errorOf(other.read(plan, ['DEM'], grid))).toEqual(new Error('internal: read() takes a plan made by this engine'));
  });

  it('on the lattice are the blend of the chips under them, each generated once, then served from memory, then from the store', async () => {
    const first = engineWith();
    const plan = await first.engine.plan({ sources: [S2()], params });
    const grid = gridOf(plan, FOOTPRINT);
    const progress: ChipProgress[] = [];
    const read = await first.engine.read(plan, ['DEM'], grid, { onChip: (p) => progress.push(p) });
    const dem = read.DEM!;
    expect([dem.crs, dem.width, dem.height, dem.transform, dem.bandNames, dem.modality]).toEqual([grid.crs, 224, 224, grid.transform, ['elevation'], 'DEM']);

    const expected = await blendedByHand(plan, FOOTPRINT, 'DEM');
    expectSameValues(dem.bands, expected.bands, 'DEM');
    expectSameValues([dem.mask], [expected.mask], 'mask');
    // The S2 chip is whole: every pixel of its own extent is valid.
    expect(dem.mask.every((m) => m === 255)).toBe(true);

    expect(first.origins()).toEqual(Array(6).fill('generated'));
    expect(first.chips.every((c) => c.output === 'DEM')).toBe(true);
    expect(first.stages).toHaveLength(6);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6].map((done) => ({ done, total: 6, generated: done, cached: 0 })));
    expect(first.engine.stats()).toEqual({ queued: 0, running: 0, generated: 6, fromStore: 0, fromMemory: 0, fromPeers: 0, shared: 0 });

    // Again on this engine: from memory, the same values.
    const again: ChipProgress[] = [];
    const fromMemory = await first.engine.read(plan, ['DEM'], grid, { onChip: (p) => again.push(p) });
    expectSameValues(fromMemory.DEM!.bands, dem.bands, 'DEM from memory');
    expect(first.origins().slice(6)).toEqual(Array(6).fill('memory'));
    expect(again.at(-1)).toEqual({ done: 6, total: 6, generated: 0, cached: 6 });
    expect(first.engine.stats()).toMatchObject({ generated: 6, fromMemory: 6 });

    // Another instance on the same store, blending one lattice row of chips at a time: from the store, the same values.
    const second = engineWith({ store: first.store, settings: { stripRows: 192 } });
    const plan2 = await second.engine.plan({ sources: [S2()], params });
    const stripProgress: ChipProgress[] = [];
    const fromStore = await second.engine.read(plan2, ['DEM'], grid, { onChip: (p) => stripProgress.push(p) });
    expectSameValues(fromStore.DEM!.bands, dem.bands, 'DEM from the store, in strips');
    expectSameValues([fromStore.DEM!.mask], [dem.mask], 'mask from the store, in strips');
    expect(second.engine.stats()).toMatchObject({ generated: 0, fromStore: 6 });
    // Strips of 192 rows: [962317, 962509) takes all six chips (from the store), [962285, 962317) four (from memory).
    expect(second.origins()).toEqual([...Array(6).fill('store'), ...Array(4).fill('memory')]);
    // Progress counts each chip once, though the second strip takes four of them again.
    expect(stripProgress).toEqual([1, 2, 3, 4, 5, 6].map((done) => ({ done, total: 6, generated: 0, cached: done })));
  });

  it('outside the sources take no chip and come back fully masked', async () => {
    const { engine, chips } = engineWith();
    const plan = await engine.plan({ sources: [S2()], params });
    const away = { col0: FOOTPRINT.col0, col1: FOOTPRINT.col0 + 50, row0: FOOTPRINT.row1 + 5000, row1: FOOTPRINT.row1 + 5040 };
    const caller = new AbortController();
    const { DEM: dem, LULC: lulc } = await engine.read(plan, ['DEM', 'LULC'], gridOf(plan, away), { signal: caller.signal });
    // The read no longer listens to its caller's signal (a signal that outlives many reads would collect listeners).
    expect(getEventListeners(caller.signal, 'abort')).toEqual([]);
    expect([dem!.width, dem!.height, lulc!.width]).toEqual([50, 40, 50]);
    expect(dem!.mask.every((m) => m === 0) && lulc!.mask.every((m) => m === 0)).toBe(true);
    expect(chips).toEqual([]);
    expect(engine.countChips(plan, gridOf(plan, away))).toBe(0);
  });

  it('off the lattice resample the blended chips: bilinear by default, nearest on request, class maps always nearest', async () => {
    const { engine } = engineWith();
    const plan = await engine.plan({ sources: [S2()], params });
    const [p, q] = plan.lattice.phase;
    // 20 m pixels a quarter lattice pixel off: target pixel (r, c) has its centre at lattice window position
    // (5.25 + 2r, 3.25 + 2c) of the window below, so nearest takes [5 + 2r][3 + 2c] and bilinear weighs
    // [4 + 2r .. 5 + 2r][2 + 2c .. 3 + 2c] by 0.25 and 0.75 on each axis.
    const target: Grid = { crs: plan.lattice.crs, width: 30, height: 30, transform: [20, 0, p + 10 * 61740 + 2.5, 0, -20, q + 10 * 962460 - 2.5] };
    const window: LatticeWindow = { col0: 61738, row0: 962396, col1: 61804, row1: 962464 };
    const W = window.col1 - window.col0;
    const onLattice = await engine.read(plan, ['DEM', 'LULC'], gridOf(plan, window));
    const at = (band: Float32Array, row: number, col: number) => band[row * W + col]!;

    const bilinear = await engine.read(plan, ['DEM', 'LULC'], target);
    const nearest = await engine.read(plan, ['DEM', 'LULC'], target, { resampling: 'nearest' });
    const dem = onLattice.DEM!.bands[0]!;
    const lulc = onLattice.LULC!.bands[0]!;
    let differ = 0;
    for (let r = 0; r < 30; r += 1) {
      for (let c = 0; c < 30; c += 1) {
        const k = r * 30 + c;
        const [r0, c0] = [4 + 2 * r, 2 + 2 * c];
        const weighed =
          0.0625 * at(dem, r0, c0) + 0.1875 * at(dem, r0, c0 + 1) + 0.1875 * at(dem, r0 + 1, c0) + 0.5625 * at(dem, r0 + 1, c0 + 1);
        expect(Math.abs(bilinear.DEM!.bands[0]![k]! - weighed), `bilinear DEM (${r}, ${c})`).toBeLessThan(2e-3);
        expect(nearest.DEM!.bands[0]![k], `nearest DEM (${r}, ${c})`).toBe(at(dem, 5 + 2 * r, 3 + 2 * c));
        expect(bilinear.LULC!.bands[0]![k], `LULC (${r}, ${c})`).toBe(at(lulc, 5 + 2 * r, 3 + 2 * c));
        if (Math.abs(weighed - at(dem, 5 + 2 * r, 3 + 2 * c)) > 0.01) differ += 1;
      }
    }
    // The two resamplings differ on most pixels, so the checks above tell them apart.
    expect(differ).toBeGreaterThan(800);
    expect(bilinear.DEM!.mask.every((m) => m === 255)).toBe(true);
    // All from the one chip under the target.
    expect(engine.stats()).toMatchObject({ generated: 2, fromMemory: 4 });
  });

  it('of one chip at once share its generation, and report it as shared', async () => {
    const { engine, origins } = engineWith();
    const plan = await engine.plan({ sources: [S2()], params });
    const progress: ChipProgress[][] = [[], []];
    const [a, b] = await Promise.all(
      [0, 1].map((n) => engine.read(plan, ['DEM'], gridOf(plan, ONE_CHIP), { onChip: (p) => progress[n]!.push(p) })),
    );
    expectSameValues(a!.DEM!.bands, b!.DEM!.bands, 'the two reads');
    expect(origins().sort()).toEqual(['generated', 'shared']);
    expect(engine.stats()).toMatchObject({ generated: 1, shared: 1 });
    expect(progress.flat().sort((x, y) => x.generated - y.generated)).toEqual([
      { done: 1, total: 1, generated: 0, cached: 1 },
      { done: 1, total: 1, generated: 1, cached: 0 },
    ]);
  });

  it('take a chip another instance is generating from that instance, under a lease named after the host and process', async () => {
    const bucket = new MemoryCacheStore(64 * 1024 * 1024);
    const leases: string[] = [];
    const shared: CacheStore = {
      kind: 'memory',
      get: (key) => bucket.get(key),
      put: async (key, object) => {
        if (key.endsWith('.lease')) leases.push(JSON.parse(new TextDecoder().decode(object.body)).owner);
        return bucket.put(key, object);
      },
      putIfAbsent: async (key, object) => {
        if (key.endsWith('.lease')) leases.push(JSON.parse(new TextDecoder().decode(object.body)).owner);
        return bucket.putIfAbsent(key, object);
      },
    };
    const { observed, chipIds, started } = observedRuntime();
    // The generating instance names no instanceId: its leases carry host-pid-random.
    const generating = createChipEngine({
      runtime: observed,
      opener,
      store: shared,
      settings: { queueMax: 8, concurrency: 1, memoryBytes: 1 << 24, leaseTtlMs: 60_000, leaseWaitMs: 5_000, leaseSettleMs: 5 },
    });
    const waiting = engineWith({ store: shared, settings: { leaseWaitMs: 5_000 } });
    const [planA, planB] = await Promise.all([generating.plan({ sources: [S2()], params }), waiting.engine.plan({ sources: [S2()], params })]);
    const first = generating.read(planA, ['DEM'], gridOf(planA, ONE_CHIP));
    await Promise.race([started, first]);
    const second = await waiting.engine.read(planB, ['DEM'], gridOf(planB, ONE_CHIP));
    expectSameValues(second.DEM!.bands, (await first).DEM!.bands, 'the peer\'s chip');
    expect(chipIds).toHaveLength(1);
    expect(waiting.origins()).toEqual(['peer']);
    expect(waiting.engine.stats()).toMatchObject({ generated: 0, fromPeers: 1, shared: 0 });
    const owner = new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-${process.pid}-[0-9a-f]{8}$`);
    expect(leases.filter((name) => !name.startsWith('engine-test')).every((name) => owner.test(name))).toBe(true);
    expect(leases.some((name) => owner.test(name))).toBe(true);
  });

  it('of several outputs give each the values of a read of it alone', async () => {
    const both = engineWith();
    const plan = await both.engine.plan({ sources: [S2()], params });
    const progress: ChipProgress[] = [];
    const read = await both.engine.read(plan, ['DEM', 'LULC'], gridOf(plan, ONE_CHIP), { onChip: (p) => progress.push(p) });
    expect(progress.at(-1)).toEqual({ done: 2, total: 2, generated: 2, cached: 0 });
    expect(both.chips.map((c) => c.output)).toEqual(['DEM', 'LULC']);
    const alone = engineWith();
    const plan2 = await alone.engine.plan({ sources: [S2()], params });
    const dem = await alone.engine.read(plan2, ['DEM'], gridOf(plan2, ONE_CHIP));
    expectSameValues(read.DEM!.bands, dem.DEM!.bands, 'DEM');
    const lulc = read.LULC!;
    expect(lulc.bandNames).toEqual(['class']);
    // Class indices, whole numbers of the ten classes.
    expect(lulc.bands[0]!.every((v) => Number.isInteger(v) && v >= 0 && v < 10)).toBe(true);
  });

  it('end with the first error of a chip, and with the caller\'s reason when it aborts', async () => {
    const failing: SourceOpening = {
      open: async (href, modality, options) => {
        const reader = await opener.open(href, modality, options);
        return { ...reader, read: async () => Promise.reject(new Error('pixels gone')) };
      },
    };
    const { engine } = engineWith({ opener: failing });
    const plan = await engine.plan({ sources: [S2()], params });
    expect(await errorOf(engine.read(plan, ['DEM'], gridOf(plan, FOOTPRINT)))).toEqual(new Error('pixels gone'));

    const slow = engineWith();
    const plan2 = await slow.engine.plan({ sources: [S2()], params });
    const controller = new AbortController();
    const reason = new Error('client left');
    setTimeout(() => controller.abort(reason), 20);
    expect(await errorOf(slow.engine.read(plan2, ['DEM'], gridOf(plan2, FOOTPRINT), { signal: controller.signal }))).toBe(reason);
  });

  it('for batch work let interactive reads generate first', async () => {
    // One chip at a time: a job's four chips are queued, a tile's chip arrives while the first runs and goes next.
    const { observed, chipIds, started } = observedRuntime();
    const { engine } = engineWith({ runtime: observed, settings: { concurrency: 1 } });
    const plan = await engine.plan({ sources: [S2()], params });
    const job = engine.read(plan, ['DEM'], gridOf(plan, NORTH), { priority: 'batch' });
    // (A read that never runs the model must fail this test, not hang it.)
    await Promise.race([started, job]);
    const tile = await engine.read(plan, ['DEM'], gridOf(plan, OTHER_CHIP));
    await job;
    const address = (i: number, j: number) => `EPSG:32736/1.819878,8.227452/${i}/${j}`;
    expect(chipIds).toHaveLength(5);
    expect(chipIds[1]).toBe(address(322, 5011));
    expect(tile.DEM!.mask.every((m) => m === 255)).toBe(true);
  });
});
