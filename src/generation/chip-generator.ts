import type { Modality } from '../modalities.js';
import type { ModelRuntime } from '../model/index.js';
import type { Grid } from '../raster/raster.js';
import type { ModalityReader } from '../sources/types.js';
import type { ChipValues } from './chip-codec.js';
import type { InputGate } from './input-gate.js';
import { chipGrid, type ChipIndex } from './lattice.js';
import type { ChipLattice, GenerationParams } from './types.js';

/**
 * One chip, from its inputs to its output values: every source is read onto the chip's 224x224 lattice grid
 * (10 m sources in the lattice CRS without resampling, others through the readers' warp), the masks are combined,
 * and the model runs on the chip with its own random stream (the chip id is its lattice address).
 *
 * Holes: where some input is invalid the output is masked, but the model still needs every pixel, so holes are
 * filled with the band's mean (zero after standardization: the least informative value). The reference has no
 * such case: IBM's tiled inference needs complete scenes and pads the border by reflection (docs/model.md).
 */
export interface ChipSource {
  modality: Modality;
  reader: ModalityReader;
}

export interface ChipRequest {
  lattice: ChipLattice;
  chip: ChipIndex;
  sources: ChipSource[];
  output: Modality;
  params: GenerationParams;
}

/** The chip's lattice address: what its random stream derives from, with the request seed. */
export function chipAddress(lattice: ChipLattice, chip: ChipIndex): string {
  return `${lattice.crs}/${lattice.phase[0]},${lattice.phase[1]}/${chip.i}/${chip.j}`;
}

/** Reads every source onto the chip grid; the mask is 255 where all of them are valid. */
export async function readChipInputs(sources: ChipSource[], grid: Grid, signal?: AbortSignal) {
  const rasters = await Promise.all(sources.map((source) => source.reader.read(grid, { signal })));
  const mask = new Uint8Array(grid.width * grid.height).fill(255);
  for (const raster of rasters) for (let p = 0; p < mask.length; p += 1) if (raster.mask[p] === 0) mask[p] = 0;
  return { rasters, mask };
}

/**
 * Generates one output for one chip; `planes` is the number of values blending needs per pixel (the output's
 * bands, or the class count for a class map). A chip without any valid input pixel is never run through the
 * model: it comes back fully masked.
 */
export interface GenerateChipOptions {
  /** Observes the model's time per stage (ms). */
  onStages?: (stages: Record<string, number>) => void;
  signal?: AbortSignal;
  /** Lets chips start the model together once the others have read their inputs (input-gate.ts). */
  gate?: InputGate;
}

export async function generateChip(runtime: ModelRuntime, request: ChipRequest, options: GenerateChipOptions = {}): Promise<ChipValues> {
  const { onStages, signal, gate } = options;
  const grid = chipGrid(request.lattice, request.chip);
  const reading = () => readChipInputs(request.sources, grid, signal);
  const { rasters, mask } = await (gate ? gate.read(reading) : reading());
  const planes = outputPlanes(runtime, request.output);
  if (!mask.includes(255)) {
    return { width: grid.width, height: grid.height, mask, bands: Array.from({ length: planes }, () => new Float32Array(mask.length)) };
  }
  // Start the model with the chips still reading their inputs, so the batcher stacks them (input-gate.ts).
  await gate?.ready();
  const inputs: Record<string, { bands: Float32Array[] }> = {};
  request.sources.forEach((source, k) => {
    const means = runtime.manifest.modalities[source.modality]?.mean ?? [];
    const own = rasters[k]!.mask;
    const bands = rasters[k]!.bands.map((band, c) => {
      const filled = Float32Array.from(band);
      const mean = means[c] ?? 0;
      // Each input keeps its own valid pixels; only its own holes take the mean.
      for (let p = 0; p < filled.length; p += 1) if (own[p] === 0) filled[p] = mean;
      return filled;
    });
    inputs[source.modality] = { bands };
  });
  const { params } = request;
  const result = await runtime.generate({
    inputs,
    outputs: [request.output],
    seed: params.seed,
    chipId: chipAddress(request.lattice, request.chip),
    timesteps: params.timesteps,
    temperature: params.temperature,
    topP: params.top_p,
    topK: params.top_k,
    thinking: params.thinking,
  });
  onStages?.(result.timings.stages);
  const out = result.outputs[request.output]!;
  return { width: grid.width, height: grid.height, mask, bands: out.classLogits ?? out.bands };
}

/** Whether an output is a class map (LULC): blended on class scores, resampled by nearest neighbour. */
export function isClassMap(runtime: ModelRuntime, output: Modality): boolean {
  return runtime.manifest.modalities[output]?.output?.tokenizer.kind === 'vqvae';
}

/** Values per pixel that a chip of `output` carries: its bands, or one score per class for a class map. */
export function outputPlanes(runtime: ModelRuntime, output: Modality): number {
  const m = runtime.manifest.modalities[output];
  if (!m) throw new RangeError(`${output} is not in this model package`);
  return isClassMap(runtime, output) ? (m.classes ?? 10) : m.bands.length;
}
