import { transformBounds } from '../geo/crs.js';
import type { Bbox } from '../grid/tiles.js';
import type { Grid } from '../raster/raster.js';
import type { ChipLattice } from './types.js';

/**
 * The anchored chip lattice (docs/generation.md): 10 m pixels in one CRS with origin phase (p, q); lattice
 * column c covers x in [p + 10c, p + 10(c+1)), lattice row r covers y in [q + 10r, q + 10(r+1)) (rows count
 * northward). Chip (i, j) is the 224x224 block of columns [192i, 192i+224) and rows [192j, 192j+224), so
 * neighbouring chips overlap by 32 pixels and a chip depends on (CRS, phase, i, j) alone.
 */
export const CHIP_SIZE = 224;
export const CHIP_STRIDE = 192;
export const CHIP_OVERLAP = CHIP_SIZE - CHIP_STRIDE;
export const LATTICE_RESOLUTION = 10;

/** A block of lattice pixels: columns [col0, col1), rows [row0, row1) (rows northward). */
export interface LatticeWindow {
  col0: number;
  row0: number;
  col1: number;
  row1: number;
}

export interface ChipIndex {
  i: number;
  j: number;
}

/** What the lattice is derived from: the anchoring source's native grid. */
export interface AnchorGrid {
  crs: string;
  /** Pixel size of its finest band, in CRS units. */
  resolution: number;
  /** Map coordinates of its pixel lattice origin (the transform's c, f). */
  origin?: readonly [number, number];
  /** CRS84 footprint. */
  bounds: Bbox;
}

/**
 * The lattice of an anchoring source. Geographic and Web Mercator sources have no metre grid a 10 m pixel can
 * mean, so they anchor on the UTM zone of their footprint's centre. A source whose own pixels are 10 m gives
 * its phase (origin modulo 10 m), so it is read without resampling; any other has phase 0.
 */
export function latticeFor(anchor: AnchorGrid): ChipLattice {
  if (anchor.crs === 'EPSG:4326' || anchor.crs === 'EPSG:3857') {
    return { crs: utmZoneOf(anchor.bounds), resolution: LATTICE_RESOLUTION, phase: [0, 0] };
  }
  const tenMetre = Math.abs(anchor.resolution - LATTICE_RESOLUTION) < 1e-6 * LATTICE_RESOLUTION;
  const phase: [number, number] = tenMetre && anchor.origin ? [phaseOf(anchor.origin[0]), phaseOf(anchor.origin[1])] : [0, 0];
  return { crs: anchor.crs, resolution: LATTICE_RESOLUTION, phase };
}

/** EPSG code of the WGS 84 UTM zone holding a CRS84 bbox's centre (the standard zones, no Norway exceptions). */
export function utmZoneOf(bounds: Bbox): string {
  const lon = (bounds[0] + bounds[2]) / 2;
  const lat = (bounds[1] + bounds[3]) / 2;
  const zone = Math.min(60, Math.max(1, Math.floor((((lon + 180) % 360) + 360) % 360 / 6) + 1));
  return `EPSG:${(lat >= 0 ? 32600 : 32700) + zone}`;
}

/** x mod 10 in [0, 10), rounded to a micrometre so that 599999.99999999 and 600000 share a phase. */
function phaseOf(coordinate: number): number {
  const phase = Math.round((((coordinate % LATTICE_RESOLUTION) + LATTICE_RESOLUTION) % LATTICE_RESOLUTION) * 1e6) / 1e6;
  return phase === LATTICE_RESOLUTION ? 0 : phase;
}

/** The lattice pixels under a bbox in the lattice CRS, snapped outward, widened by `margin` pixels. */
export function latticeWindow(lattice: ChipLattice, bbox: Bbox, margin = 0): LatticeWindow {
  const [p, q] = lattice.phase;
  const r = lattice.resolution;
  // A bbox edge within a micrometre of a pixel edge is on it (projected and decimal bboxes carry rounding).
  const snap = (value: number) => Math.round(value * 1e6) / 1e6;
  return {
    col0: Math.floor(snap((bbox[0] - p) / r)) - margin,
    row0: Math.floor(snap((bbox[1] - q) / r)) - margin,
    col1: Math.ceil(snap((bbox[2] - p) / r)) + margin,
    row1: Math.ceil(snap((bbox[3] - q) / r)) + margin,
  };
}

/** The north-up pixel grid of a lattice window (its first raster row is the window's northernmost row). */
export function windowGrid(lattice: ChipLattice, window: LatticeWindow): Grid {
  const [p, q] = lattice.phase;
  const r = lattice.resolution;
  return {
    crs: lattice.crs,
    transform: [r, 0, p + r * window.col0, 0, -r, q + r * window.row1],
    width: window.col1 - window.col0,
    height: window.row1 - window.row0,
  };
}

/** The window of chip (i, j). */
export function chipWindow(chip: ChipIndex): LatticeWindow {
  const col0 = chip.i * CHIP_STRIDE;
  const row0 = chip.j * CHIP_STRIDE;
  return { col0, row0, col1: col0 + CHIP_SIZE, row1: row0 + CHIP_SIZE };
}

/** The 224x224 grid a chip's inputs are read onto. */
export function chipGrid(lattice: ChipLattice, chip: ChipIndex): Grid {
  return windowGrid(lattice, chipWindow(chip));
}

/** First and last chip index (inclusive) whose span [192k, 192k+224) meets pixels [start, end). */
function chipSpan(start: number, end: number): [number, number] {
  return [Math.floor((start - CHIP_SIZE) / CHIP_STRIDE) + 1, Math.floor((end - 1) / CHIP_STRIDE)];
}

/** The chips that cover any pixel of a window, row by row from north to south, west to east. */
export function chipsCovering(window: LatticeWindow): ChipIndex[] {
  if (window.col1 <= window.col0 || window.row1 <= window.row0) return [];
  const [i0, i1] = chipSpan(window.col0, window.col1);
  const [j0, j1] = chipSpan(window.row0, window.row1);
  const chips: ChipIndex[] = [];
  for (let j = j1; j >= j0; j -= 1) for (let i = i0; i <= i1; i += 1) chips.push({ i, j });
  return chips;
}

/** Whether a grid is made of whole lattice pixels (same CRS, 10 m, north-up, edges on the lattice). */
export function alignedWindow(lattice: ChipLattice, grid: Grid): LatticeWindow | undefined {
  const [a, b, c, d, e, f] = grid.transform;
  const r = lattice.resolution;
  if (grid.crs !== lattice.crs || Math.abs(a - r) > 1e-9 || b !== 0 || d !== 0 || Math.abs(e + r) > 1e-9) return undefined;
  const col0 = (c - lattice.phase[0]) / r;
  const row1 = (f - lattice.phase[1]) / r;
  if (Math.abs(col0 - Math.round(col0)) > 1e-6 || Math.abs(row1 - Math.round(row1)) > 1e-6) return undefined;
  const c0 = Math.round(col0);
  const r1 = Math.round(row1);
  return { col0: c0, row0: r1 - grid.height, col1: c0 + grid.width, row1: r1 };
}

/**
 * The lattice window a read of `target` needs: the target itself when it is lattice-aligned, else its footprint
 * projected into the lattice CRS plus two pixels for the resampling kernel. Undefined when it cannot be projected.
 */
export function windowForTarget(lattice: ChipLattice, target: Grid): LatticeWindow | undefined {
  const aligned = alignedWindow(lattice, target);
  if (aligned) return aligned;
  const [a, b, c, d, e, f] = target.transform;
  const xs = [c, c + a * target.width, c + b * target.height, c + a * target.width + b * target.height];
  const ys = [f, f + d * target.width, f + e * target.height, f + d * target.width + e * target.height];
  const bounds: Bbox = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  const projected = transformBounds(bounds, target.crs, lattice.crs);
  return projected && latticeWindow(lattice, projected, 2);
}

/** Most chips along one axis that a run of `span` lattice pixels can touch, over every placement on the lattice. */
export function chipsPerAxis(span: number): number {
  if (span > 1e6) return Infinity;
  let worst = 0;
  for (let start = 0; start < CHIP_STRIDE; start += 1) {
    const [first, last] = chipSpan(start, start + Math.ceil(span));
    worst = Math.max(worst, last - first + 1);
  }
  return worst;
}
