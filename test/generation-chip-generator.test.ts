import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGeoTiffRaster } from '../src/cli/read-input.js';
import { loadConfig } from '../src/config.js';
import { chipAddress, generateChip, isClassMap, outputPlanes, readChipInputs, type ChipSource } from '../src/generation/chip-generator.js';
import { InputGate } from '../src/generation/input-gate.js';
import { chipGrid, latticeFor, type ChipIndex } from '../src/generation/lattice.js';
import type { ChipLattice, GenerationParams } from '../src/generation/types.js';
import { createGuardedFetch } from '../src/net/guarded-fetch.js';
import { createModelRuntime, type ChipInput, type GenerateRequest, type GenerateResult, type ModelRuntime } from '../src/model/runtime.js';
import type { Grid, Raster } from '../src/raster/raster.js';
import { encodeGeoTiff } from '../src/render/geotiff.js';
import { createSourceOpener, type SourceOpener } from '../src/sources/open.js';
import type { ModalityReader } from '../src/sources/types.js';
import { FIXTURES } from './helpers/fixture-server.js';
import { expectSameValues } from './helpers/same-values.js';

/**
 * One chip from its inputs to its output (src/generation/chip-generator.ts), against the model runtime called
 * directly with inputs prepared here by the rule the chip engine documents: every source read onto the chip's
 * 224x224 lattice grid, each input's own invalid pixels filled with that modality's mean from the package
 * manifest (read here from manifest.json), the output masked wherever any input is invalid.
 *
 * The example chip 38D_378R_2_3 (S2L2A, and its DEM with a hole cut out here) covers lattice columns
 * [61730, 61954) and rows [962285, 962509); chip (321, 5012) spans columns [61632, 61856) and rows
 * [962304, 962528), so its 98 western columns and 19 northern rows lie outside the sources.
 */
const MODEL_DIR = fileURLToPath(new URL('../models/terramind-test-random', import.meta.url));
const MANIFEST = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { modalities: Record<string, { mean?: number[]; classes?: number }> };
const EXAMPLE = '38D_378R_2_3.tif';
const CHIP: ChipIndex = { i: 321, j: 5012 };
/** A chip of the same lattice 20 chips further north: no source reaches it. */
const FAR_CHIP: ChipIndex = { i: 321, j: 5032 };
/** The hole cut into the DEM, in the DEM file's own pixels. */
const HOLE = { row0: 100, row1: 140, col0: 50, col1: 90 };

const PARAMS: GenerationParams = { seed: 7, timesteps: 2, temperature: 0.7, top_p: 0.8, top_k: 20, thinking: ['LULC'] };

let runtime: ModelRuntime;
const runs: { part: string; rows: number }[] = [];
let opener: SourceOpener;
let dir: string;
let s2: ModalityReader;
let dem: ModalityReader;
let lattice: ChipLattice;

beforeAll(async () => {
  runtime = createModelRuntime(loadConfig({ LOG_LEVEL: 'silent' }), undefined, { onRun: (part, rows) => void runs.push({ part, rows }) });
  dir = mkdtempSync(join(tmpdir(), 'tmogc-chip-generator-'));
  const original = await readGeoTiffRaster(join(FIXTURES, 'terramind-examples/DEM', EXAMPLE), 'DEM');
  const mask = Uint8Array.from(original.mask);
  for (let row = HOLE.row0; row < HOLE.row1; row += 1) mask.fill(0, row * original.width + HOLE.col0, row * original.width + HOLE.col1);
  writeFileSync(join(dir, 'dem-with-hole.tif'), encodeGeoTiff({ ...original, mask }));
  opener = createSourceOpener({ fetch: createGuardedFetch({ allowHosts: [], timeoutMs: 10_000, maxBytes: 64 * 1024 * 1024, allowFileUrls: false }) });
  s2 = await opener.open(pathToFileURL(join(FIXTURES, 'terramind-examples/S2L2A', EXAMPLE)).href, 'S2L2A', { trusted: true });
  dem = await opener.open(pathToFileURL(join(dir, 'dem-with-hole.tif')).href, 'DEM', { trusted: true });
  lattice = latticeFor({ crs: s2.crs, resolution: s2.resolution, origin: s2.origin, bounds: s2.bounds });
});

afterAll(async () => {
  await runtime?.close();
  await opener?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sources = (): ChipSource[] => [
  { modality: 'S2L2A', reader: s2 },
  { modality: 'DEM', reader: dem },
];

/** Each input read onto the chip grid, its own invalid pixels set to the manifest mean of its band. */
function filledWithMeans(raster: Raster, modality: string): Float32Array[] {
  const means = MANIFEST.modalities[modality]!.mean!;
  return raster.bands.map((band, c) => band.map((value, p) => (raster.mask[p] === 0 ? means[c]! : value)));
}

const count = (mask: Uint8Array, value: number) => mask.reduce((n, m) => n + (m === value ? 1 : 0), 0);

describe('a chip and its inputs', () => {
  it('is addressed by lattice CRS, phase and index, the string its random stream derives from', () => {
    expect(lattice).toEqual({ crs: 'EPSG:32736', resolution: 10, phase: [1.819878, 8.227452] });
    expect(chipAddress(lattice, CHIP)).toBe('EPSG:32736/1.819878,8.227452/321/5012');
    expect(chipAddress({ ...lattice, phase: [0, 5] }, { i: -3, j: 12 })).toBe('EPSG:32736/0,5/-3/12');
  });

  it('reads every source onto the chip grid; the mask is 255 only where every source is valid', async () => {
    const grid = chipGrid(lattice, CHIP);
    const { rasters, mask } = await readChipInputs(sources(), grid);
    const [a, b] = [await s2.read(grid), await dem.read(grid)];
    expect(rasters.map((r) => [r.modality, r.width, r.height])).toEqual([
      ['S2L2A', 224, 224],
      ['DEM', 224, 224],
    ]);
    expectSameValues(rasters[0]!.bands, a.bands, 'S2L2A');
    expectSameValues(rasters[1]!.bands, b.bands, 'DEM');
    // Outside the example chip both are invalid; the hole is invalid only in the DEM.
    const onlyDemInvalid = a.mask.reduce((n, m, p) => n + (m === 255 && b.mask[p] === 0 ? 1 : 0), 0);
    expect(onlyDemInvalid).toBe((HOLE.row1 - HOLE.row0) * (HOLE.col1 - HOLE.col0));
    // (224 - 98) valid columns by (224 - 19) valid rows of S2L2A, less the DEM's 40x40 hole.
    expect(count(mask, 255)).toBe(126 * 205 - 1600);
    expectSameValues([mask], [a.mask.map((m, p) => (m === 255 && b.mask[p] === 255 ? 255 : 0))], 'mask');
  });
});

describe('generating a chip', () => {
  it('hands the model each input with only its own holes filled with its mean, the chip\'s address and every parameter', async () => {
    // The runtime is the real one; the test records what generateChip asks of it and what it answers (the tiny
    // random model's sampled tokens barely move with a 40x40 change of its inputs, so outputs alone would not
    // show a wrongly filled hole).
    const asked: { request: GenerateRequest; result: GenerateResult }[] = [];
    const observed: ModelRuntime = {
      ...runtime,
      generate: async (request) => {
        const result = await runtime.generate(request);
        asked.push({ request, result });
        return result;
      },
    };
    const stages: Record<string, number>[] = [];
    const chip = await generateChip(observed, { lattice, chip: CHIP, sources: sources(), output: 'S1RTC', params: PARAMS }, { onStages: (s) => stages.push(s) });

    const grid = chipGrid(lattice, CHIP);
    const [a, b] = [await s2.read(grid), await dem.read(grid)];
    expect(asked).toHaveLength(1);
    const { request, result } = asked[0]!;
    expect(Object.keys(request.inputs)).toEqual(['S2L2A', 'DEM']);
    const bandsOf = (input: ChipInput | undefined) => (input && 'bands' in input ? input.bands : []);
    expectSameValues(bandsOf(request.inputs.S2L2A), filledWithMeans(a, 'S2L2A'), 'S2L2A input');
    expectSameValues(bandsOf(request.inputs.DEM), filledWithMeans(b, 'DEM'), 'DEM input');
    const { inputs: _inputs, ...rest } = request;
    expect(rest).toEqual({
      outputs: ['S1RTC'],
      seed: 7,
      chipId: 'EPSG:32736/1.819878,8.227452/321/5012',
      timesteps: 2,
      temperature: 0.7,
      topP: 0.8,
      topK: 20,
      thinking: ['LULC'],
    });
    expect([chip.width, chip.height]).toEqual([224, 224]);
    expect(chip.bands).toBe(result.outputs.S1RTC!.bands);
    expectSameValues([chip.mask], [a.mask.map((m, p) => (m === 255 && b.mask[p] === 255 ? 255 : 0))], 'mask');
    // The model's stage times are reported once per chip.
    expect(stages).toEqual([result.timings.stages]);
  });

  it('takes the class scores of a class map (one plane per class), not its class indices', async () => {
    const grid = chipGrid(lattice, CHIP);
    const chip = await generateChip(runtime, { lattice, chip: CHIP, sources: [{ modality: 'S2L2A', reader: s2 }], output: 'LULC', params: { ...PARAMS, thinking: [] } });
    const a = await s2.read(grid);
    const expected = await runtime.generate({
      inputs: { S2L2A: { bands: filledWithMeans(a, 'S2L2A') } },
      outputs: ['LULC'],
      seed: 7,
      chipId: chipAddress(lattice, CHIP),
      timesteps: 2,
      temperature: 0.7,
      topP: 0.8,
      topK: 20,
    });
    expect(chip.bands).toHaveLength(10);
    expectSameValues(chip.bands, expected.outputs.LULC!.classLogits!, 'class scores');
    expectSameValues([chip.mask], [a.mask], 'mask');
  });

  it('reads its inputs under the caller\'s signal', async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const observed = (reader: ModalityReader): ModalityReader => ({
      ...reader,
      read: (target, options) => {
        signals.push(options?.signal);
        return reader.read(target, options);
      },
    });
    const controller = new AbortController();
    await readChipInputs([{ modality: 'S2L2A', reader: observed(s2) }, { modality: 'DEM', reader: observed(dem) }], chipGrid(lattice, FAR_CHIP), controller.signal);
    expect(signals).toEqual([controller.signal, controller.signal]);
  });

  it('never runs the model for a chip without any valid input pixel: it comes back fully masked, all planes zero', async () => {
    const before = runs.length;
    const stages: unknown[] = [];
    for (const [output, planes] of [
      ['DEM', 1],
      ['LULC', 10],
      ['S2L2A', 12],
    ] as const) {
      const chip = await generateChip(runtime, { lattice, chip: FAR_CHIP, sources: sources(), output, params: PARAMS }, { onStages: (s) => stages.push(s) });
      expect([chip.width, chip.height, chip.bands.length]).toEqual([224, 224, planes]);
      expect(count(chip.mask, 0)).toBe(224 * 224);
      for (const band of chip.bands) expect(band.every((v) => v === 0)).toBe(true);
    }
    expect(runs.length).toBe(before);
    expect(stages).toEqual([]);
  });

  it('with an input gate, a chip whose inputs are read waits for the chips still reading, so their model runs stack', async () => {
    // Two chips; the second's inputs take 400 ms longer to read. Through one gate both start the model together,
    // so every part runs once with two rows; without it the first chip would run alone.
    const slow = (reader: ModalityReader): ModalityReader => ({
      ...reader,
      read: async (target: Grid, options) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        return reader.read(target, options);
      },
    });
    const gate = new InputGate(5_000);
    const params = { ...PARAMS, timesteps: 1, thinking: [] };
    const before = runs.length;
    await Promise.all([
      generateChip(runtime, { lattice, chip: CHIP, sources: [{ modality: 'S2L2A', reader: s2 }], output: 'DEM', params }, { gate }),
      generateChip(runtime, { lattice, chip: { i: 322, j: 5012 }, sources: [{ modality: 'S2L2A', reader: slow(s2) }], output: 'DEM', params }, { gate }),
    ]);
    const embeds = runs.slice(before).filter((run) => run.part === 'embed_S2L2A.onnx');
    expect(embeds).toEqual([{ part: 'embed_S2L2A.onnx', rows: 2 }]);
  });
});

describe('output planes', () => {
  it('are the bands of an image output and one score per class of a class map', () => {
    expect([outputPlanes(runtime, 'DEM'), outputPlanes(runtime, 'S1RTC'), outputPlanes(runtime, 'S2L2A'), outputPlanes(runtime, 'LULC')]).toEqual([1, 2, 12, 10]);
    expect(['DEM', 'S1RTC', 'S2L2A', 'NDVI', 'LULC'].map((m) => isClassMap(runtime, m as never))).toEqual([false, false, false, false, true]);
  });

  it('take the class count from the package, and refuse an output the package does not have', () => {
    const modalities = runtime.manifest.modalities;
    const withSevenClasses = { ...runtime, manifest: { ...runtime.manifest, modalities: { ...modalities, LULC: { ...modalities.LULC!, classes: 7 } } } };
    expect(outputPlanes(withSevenClasses, 'LULC')).toBe(7);
    const { NDVI: _dropped, ...withoutNdvi } = modalities;
    const narrowed = { ...runtime, manifest: { ...runtime.manifest, modalities: withoutNdvi } };
    expect(() => outputPlanes(narrowed, 'NDVI')).toThrow(new RangeError('NDVI is not in this model package'));
    expect(isClassMap(narrowed, 'NDVI')).toBe(false);
  });
});
