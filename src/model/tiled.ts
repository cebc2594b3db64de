import { randomInt } from 'node:crypto';
import { badRequest } from '../errors.js';
import type { Modality } from '../modalities.js';
import { createRaster, type Raster } from '../raster/raster.js';
import { checkClassIndices, classCount } from './class-input.js';
import { PIXELS } from './generate.js';
import { modalityName, type GenerateRequest, type ModelRuntime } from './runtime.js';

/**
 * Generation over rasters larger than one chip (terramind-reference.md §4.5): overlapping 224-pixel chips with
 * stride 192, edge chips aligned to the border, each chip weighted by a raised-cosine ramp over the overlap
 * (cos(pi(i+1)/(overlap+1))/2 + 0.5, plus 1e-6) and the weighted chips averaged. LULC is blended on its class
 * logits and the argmax taken after, so class indices are never averaged.
 */
export const CROP = 224;
export const STRIDE = 192;

/** Chip start offsets along an axis of `length` pixels (length >= 224); the last chip ends at the border. */
export function chipOffsets(length: number, crop = CROP, stride = STRIDE): number[] {
  if (length < crop) throw badRequest(`Inputs must be at least ${crop} pixels wide and high, got ${length}.`);
  const offsets: number[] = [];
  for (let p = 0; p + crop < length; p += stride) offsets.push(p);
  offsets.push(length - crop);
  return [...new Set(offsets)];
}

/** Weights along one chip axis: ramps up over the overlap where a chip has a neighbour before, down where after. */
export function rampWeights(hasBefore: boolean, hasAfter: boolean, crop = CROP, overlap = CROP - STRIDE): Float32Array {
  const w = new Float32Array(crop).fill(1);
  for (let i = 0; i < overlap; i += 1) {
    const down = Math.cos((Math.PI * (i + 1)) / (overlap + 1)) / 2 + 0.5; // 1 -> 0 over the overlap
    if (hasBefore) w[i] = Math.min(w[i]!, 1 - down);
    if (hasAfter) w[crop - overlap + i] = Math.min(w[crop - overlap + i]!, down);
  }
  for (let i = 0; i < crop; i += 1) w[i]! += 1e-6;
  return w;
}

export interface TiledRequest extends Omit<GenerateRequest, 'inputs' | 'chipId' | 'grid' | 'onProgress'> {
  /** Co-registered rasters of any size >= 224x224, all on the same grid. */
  inputs: Record<string, Raster>;
  onChip?: (done: number, total: number) => void;
  onProgress?: GenerateRequest['onProgress'];
  /** How many chips are in flight at once (the batcher stacks them); default 8. */
  concurrency?: number;
}

/** Generates every output over the whole input grid; each output is a Raster on that grid. */
export async function generateTiled(runtime: ModelRuntime, request: TiledRequest): Promise<{ seed: number; outputs: Partial<Record<Modality, Raster>> }> {
  const entries = Object.entries(request.inputs);
  if (entries.length === 0) throw badRequest('Give at least one input raster.');
  const first = entries[0]![1];
  for (const [name, r] of entries) {
    if (r.width !== first.width || r.height !== first.height || r.crs !== first.crs || r.transform.some((v, i) => Math.abs(v - first.transform[i]!) > 1e-6 * Math.max(1, Math.abs(v)))) {
      throw badRequest(`Input ${name} is not on the same grid as ${entries[0]![0]}; inputs must be co-registered (same CRS, transform and size).`);
    }
  }
  // Class maps are checked on the whole raster first, so the reported row and column are the caller's.
  for (const [name, r] of entries) {
    const id = modalityName(name, 'input');
    const entry = runtime.manifest.modalities[id];
    const classes = entry ? classCount(id, entry) : undefined;
    if (classes !== undefined) r.bands.forEach((band, c) => checkClassIndices(id, entry!.bands[c] ?? String(c + 1), band, r.width, classes));
  }
  const { width, height } = first;
  const xs = chipOffsets(width);
  const ys = chipOffsets(height);
  const seed = request.seed ?? randomInt(0, 2 ** 31);
  const outputs = request.outputs.map((name) => modalityName(name, 'output'));
  const size = width * height;
  const acc = new Map<Modality, { sums: Float32Array[]; bandNames: string[]; classes: boolean }>();
  const weightSum = new Float32Array(size);
  const chips = ys.flatMap((y, row) => xs.map((x, col) => ({ x, y, row, col })));
  let done = 0;

  const runChip = async (chip: (typeof chips)[number]) => {
    const inputs: GenerateRequest['inputs'] = {};
    for (const [name, r] of entries) {
      const bands = r.bands.map((band) => {
        const out = new Float32Array(PIXELS);
        for (let j = 0; j < CROP; j += 1) out.set(band.subarray((chip.y + j) * width + chip.x, (chip.y + j) * width + chip.x + CROP), j * CROP);
        return out;
      });
      inputs[name] = { bands };
    }
    const { chipId: _ignored, ...rest } = request as TiledRequest & { chipId?: string };
    const result = await runtime.generate({ ...rest, inputs, seed, chipId: `r${chip.row}c${chip.col}` });
    const wy = rampWeights(chip.row > 0, chip.row < ys.length - 1);
    const wx = rampWeights(chip.col > 0, chip.col < xs.length - 1);
    for (const id of outputs) {
      const out = result.outputs[id]!;
      const planes = out.classLogits ?? out.bands;
      let entry = acc.get(id);
      if (!entry) {
        entry = { sums: planes.map(() => new Float32Array(size)), bandNames: out.bandNames, classes: out.classLogits !== undefined };
        acc.set(id, entry);
      }
      planes.forEach((plane, c) => {
        const sum = entry.sums[c]!;
        for (let j = 0; j < CROP; j += 1) {
          const base = (chip.y + j) * width + chip.x;
          for (let i = 0; i < CROP; i += 1) sum[base + i]! += plane[j * CROP + i]! * wy[j]! * wx[i]!;
        }
      });
    }
    for (let j = 0; j < CROP; j += 1) {
      const base = (chip.y + j) * width + chip.x;
      for (let i = 0; i < CROP; i += 1) weightSum[base + i]! += wy[j]! * wx[i]!;
    }
    done += 1;
    request.onChip?.(done, chips.length);
  };

  const concurrency = Math.max(1, request.concurrency ?? 8);
  let next = 0;
  // After one chip failed the request has failed: start no further chips, let the running ones end (so nothing
  // still runs when this rejects and the caller closes the runtime), then throw the first error.
  let failure: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, chips.length) }, async () => {
      while (!failure && next < chips.length) {
        try {
          await runChip(chips[next++]!);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;

  const grid = { crs: first.crs, transform: first.transform, width, height };
  const rasters: Partial<Record<Modality, Raster>> = {};
  for (const [id, entry] of acc) {
    const raster = createRaster(grid, entry.bandNames, id);
    raster.mask.fill(255);
    if (entry.classes) {
      const band = raster.bands[0]!;
      for (let p = 0; p < size; p += 1) {
        let best = 0;
        for (let c = 1; c < entry.sums.length; c += 1) if (entry.sums[c]![p]! > entry.sums[best]![p]!) best = c;
        band[p] = best;
      }
    } else {
      entry.sums.forEach((sum, c) => {
        const band = raster.bands[c]!;
        for (let p = 0; p < size; p += 1) band[p] = sum[p]! / weightSum[p]!;
      });
    }
    rasters[id] = raster;
  }
  return { seed, outputs: rasters };
}
