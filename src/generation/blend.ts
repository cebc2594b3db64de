import { rampWeights } from '../model/index.js';
import type { ChipValues } from './chip-codec.js';
import { CHIP_SIZE, chipWindow, type ChipIndex, type LatticeWindow } from './lattice.js';

/**
 * Blending of anchored chips into one window of the lattice, with the reference's raised-cosine weights
 * (terramind-reference.md §4.5; src/model/tiled.ts rampWeights). On the infinite lattice every chip has
 * neighbours on all sides, so every chip carries the same weights w(x) w(y) and a pixel's value is
 * sum_c w_c v_c / sum_c w_c over the chips covering it, whatever window asked: seamless by construction.
 * Class maps are blended on their class scores and the argmax taken after, so class indices are never averaged.
 * A pixel is valid only where every chip covering it had valid inputs there; a chip that was not generated
 * (no valid input anywhere) leaves its whole area invalid.
 */
const WEIGHTS = rampWeights(true, true);

export class WindowBlender {
  private readonly width: number;
  private readonly height: number;
  private readonly sums: Float32Array[];
  private readonly weights: Float32Array;
  private readonly valid: Uint8Array;

  constructor(
    private readonly window: LatticeWindow,
    planes: number,
  ) {
    this.width = window.col1 - window.col0;
    this.height = window.row1 - window.row0;
    const size = this.width * this.height;
    this.sums = Array.from({ length: planes }, () => new Float32Array(size));
    this.weights = new Float32Array(size);
    this.valid = new Uint8Array(size).fill(255);
  }

  /** Adds one chip covering part of the window; `values` undefined marks a chip with no valid input. */
  add(chip: ChipIndex, values: ChipValues | undefined): void {
    const cw = chipWindow(chip);
    const col0 = Math.max(cw.col0, this.window.col0);
    const col1 = Math.min(cw.col1, this.window.col1);
    const row0 = Math.max(cw.row0, this.window.row0);
    const row1 = Math.min(cw.row1, this.window.row1);
    if (col1 <= col0 || row1 <= row0) return;
    if (values && values.bands.length !== this.sums.length) {
      throw new Error(`chip has ${values.bands.length} planes, the blend expects ${this.sums.length}`);
    }
    // Window and chip rasters are north-up: raster row 0 is the northernmost lattice row (row1 - 1).
    for (let row = row0; row < row1; row += 1) {
      const out = (this.window.row1 - 1 - row) * this.width - this.window.col0;
      const inChip = (cw.row1 - 1 - row) * CHIP_SIZE - cw.col0;
      if (!values) {
        this.valid.fill(0, out + col0, out + col1);
        continue;
      }
      const wy = WEIGHTS[row - cw.row0]!;
      for (let col = col0; col < col1; col += 1) {
        const o = out + col;
        const k = inChip + col;
        if (values.mask[k] === 0) {
          this.valid[o] = 0;
          continue;
        }
        const w = wy * WEIGHTS[col - cw.col0]!;
        this.weights[o]! += w;
        for (let c = 0; c < this.sums.length; c += 1) this.sums[c]![o]! += w * values.bands[c]![k]!;
      }
    }
  }

  /** Weighted means per plane (or, for class scores, the argmax class as one plane) and the validity mask. */
  finish(classes: boolean): { bands: Float32Array[]; mask: Uint8Array } {
    const size = this.width * this.height;
    const mask = this.valid;
    // A pixel no chip reached (outside every source) is as invalid as one with invalid inputs.
    for (let p = 0; p < size; p += 1) if (this.weights[p] === 0) mask[p] = 0;
    if (classes) {
      const band = new Float32Array(size);
      for (let p = 0; p < size; p += 1) {
        if (mask[p] === 0) continue;
        let best = 0;
        let bestScore = this.sums[0]![p]!;
        for (let c = 1; c < this.sums.length; c += 1) {
          const score = this.sums[c]![p]!;
          if (score > bestScore) {
            bestScore = score;
            best = c;
          }
        }
        band[p] = best;
      }
      return { bands: [band], mask };
    }
    const bands = this.sums.map((sum) => {
      for (let p = 0; p < size; p += 1) sum[p] = mask[p] === 0 ? 0 : sum[p]! / this.weights[p]!;
      return sum;
    });
    return { bands, mask };
  }
}
