import { coordinateTransform } from '../geo/crs.js';
import type { Affine, Grid } from './raster.js';

/**
 * Reprojection of source windows onto a target grid.
 *
 * Projecting every target pixel with proj4 costs a few µs each; instead the target is covered by a lattice of
 * nodes every `step` pixels, the nodes are projected exactly, and pixels in between are interpolated bilinearly
 * (GDAL's approximate transformer). Each lattice cell is checked at its centre: if the interpolation misses the
 * exact position by more than `tolerance` (source CRS units), that cell is projected pixel by pixel.
 * The check runs at the cell centre and edge midpoints, where the bilinear patch departs most from the truth.
 */
export interface SourceCoordinates {
  /** Source-CRS x/y of every target pixel centre, row-major; NaN where the point cannot be transformed. */
  xs: Float64Array;
  ys: Float64Array;
  width: number;
  height: number;
  /** Cells that needed exact projection (for tests and the design note's error figures). */
  exactCells: number;
  cells: number;
}

export function sourceCoordinates(target: Grid, sourceCrs: string, tolerance: number, step = 16): SourceCoordinates {
  const { width, height } = target;
  const xs = new Float64Array(width * height);
  const ys = new Float64Array(width * height);
  const transform = coordinateTransform(target.crs, sourceCrs);
  const [a, b, c, d, e, f] = target.transform;
  const inverse = coordinateTransform(sourceCrs, target.crs);
  // Far outside a projection's valid area (a UTM zone seen from a world tile) proj4 returns finite nonsense
  // that could land inside the image; a round trip that does not come back marks such points as unusable.
  const roundTripTolerance = Math.hypot(a, d) * 0.5;
  const project = (col: number, row: number): [number, number] => {
    const x = a * (col + 0.5) + b * (row + 0.5) + c;
    const y = d * (col + 0.5) + e * (row + 0.5) + f;
    const out = transform.forward(x, y);
    if (transform.identity || !Number.isFinite(out[0])) return out;
    const [bx, by] = inverse.forward(out[0], out[1]);
    return Math.hypot(bx - x, by - y) <= roundTripTolerance ? out : [NaN, NaN];
  };
  if (transform.identity) {
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        xs[row * width + col] = a * (col + 0.5) + b * (row + 0.5) + c;
        ys[row * width + col] = d * (col + 0.5) + e * (row + 0.5) + f;
      }
    }
    return { xs, ys, width, height, exactCells: 0, cells: 0 };
  }

  // Node columns/rows at 0, step, 2*step, ..., and always the last pixel.
  const nodeCols = lattice(width, step);
  const nodeRows = lattice(height, step);
  const nx = nodeCols.length;
  const nodeX = new Float64Array(nx * nodeRows.length);
  const nodeY = new Float64Array(nx * nodeRows.length);
  nodeRows.forEach((row, j) =>
    nodeCols.forEach((col, i) => {
      const [x, y] = project(col, row);
      nodeX[j * nx + i] = x;
      nodeY[j * nx + i] = y;
    }),
  );

  let exactCells = 0;
  let cells = 0;
  const single = (n: number[]) => (n.length === 1 ? [{ from: n[0], to: n[0], span: 1 }] : []);
  const spans = (n: number[]) =>
    single(n).concat(n.slice(1).map((to, k) => ({ from: n[k], to, span: Math.max(to - n[k], 1) })));
  const colSpans = spans(nodeCols);
  const rowSpans = spans(nodeRows);
  rowSpans.forEach((rs, j) => {
    colSpans.forEach((cs, i) => {
      cells++;
      const j1 = Math.min(j + 1, nodeRows.length - 1);
      const i1 = Math.min(i + 1, nx - 1);
      const corners = [j * nx + i, j * nx + i1, j1 * nx + i, j1 * nx + i1];
      const x00 = nodeX[corners[0]], x10 = nodeX[corners[1]], x01 = nodeX[corners[2]], x11 = nodeX[corners[3]];
      const y00 = nodeY[corners[0]], y10 = nodeY[corners[1]], y01 = nodeY[corners[2]], y11 = nodeY[corners[3]];
      let exact = !Number.isFinite(x00 + x10 + x01 + x11 + y00 + y10 + y01 + y11);
      if (!exact && (cs.to - cs.from > 1 || rs.to - rs.from > 1)) {
        // An error is judged against the coarser of the source pixel and this cell's target pixel (in source
        // units): a sub-pixel miss of a 100 m pixel is irrelevant when a target pixel covers 1.5 km.
        const targetPixel =
          Math.max(Math.hypot(x10 - x00, y10 - y00) / Math.max(cs.to - cs.from, 1), Math.hypot(x01 - x00, y01 - y00) / Math.max(rs.to - rs.from, 1));
        const cellTolerance = Math.max(tolerance, TOLERANCE_FRACTION * targetPixel);
        // Check the interpolation against exact projection at the cell centre and edge midpoints (where a
        // curved edge deviates most from the straight chord between two nodes).
        for (const [u, v] of CHECK_POINTS) {
          const [mx, my] = project(cs.from + u * (cs.to - cs.from), rs.from + v * (rs.to - rs.from));
          const ix = (1 - v) * ((1 - u) * x00 + u * x10) + v * ((1 - u) * x01 + u * x11);
          const iy = (1 - v) * ((1 - u) * y00 + u * y10) + v * ((1 - u) * y01 + u * y11);
          if (!Number.isFinite(mx) || Math.hypot(mx - ix, my - iy) > cellTolerance) {
            exact = true;
            break;
          }
        }
      }
      if (exact) exactCells++;
      const lastRow = j === rowSpans.length - 1 ? rs.to : rs.to - 1;
      const lastCol = i === colSpans.length - 1 ? cs.to : cs.to - 1;
      for (let row = rs.from; row <= lastRow; row++) {
        const v = (row - rs.from) / rs.span;
        for (let col = cs.from; col <= lastCol; col++) {
          const index = row * width + col;
          if (exact) {
            const [x, y] = project(col, row);
            xs[index] = x;
            ys[index] = y;
            continue;
          }
          const u = (col - cs.from) / cs.span;
          xs[index] = (1 - v) * ((1 - u) * x00 + u * x10) + v * ((1 - u) * x01 + u * x11);
          ys[index] = (1 - v) * ((1 - u) * y00 + u * y10) + v * ((1 - u) * y01 + u * y11);
        }
      }
    });
  });
  return { xs, ys, width, height, exactCells, cells };
}

/** Allowed interpolation error as a fraction of a pixel (GDAL's approximate transformer default). */
export const TOLERANCE_FRACTION = 0.125;

const CHECK_POINTS: readonly [number, number][] = [
  [0.5, 0.5],
  [0.5, 0],
  [0, 0.5],
  [1, 0.5],
  [0.5, 1],
];

function lattice(size: number, step: number): number[] {
  const nodes: number[] = [];
  for (let k = 0; k < size - 1; k += step) nodes.push(k);
  nodes.push(size - 1);
  return nodes;
}

/** Fractional pixel coordinates (col, row; corner convention) of every target pixel in a source grid. */
export interface PixelCoordinates {
  cols: Float32Array;
  rows: Float32Array;
}

export function toPixelCoordinates(coords: SourceCoordinates, transform: Affine): PixelCoordinates {
  const size = coords.xs.length;
  const cols = new Float32Array(size);
  const rows = new Float32Array(size);
  // mapToPixel inlined: this runs for every target pixel of every read.
  const [a, b, c, d, e, f] = transform;
  const det = a * e - b * d;
  const { xs, ys } = coords;
  for (let i = 0; i < size; i++) {
    const dx = xs[i] - c;
    const dy = ys[i] - f;
    cols[i] = (e * dx - b * dy) / det;
    rows[i] = (a * dy - d * dx) / det;
  }
  return { cols, rows };
}

/**
 * How many source pixels (of `transform`) one target pixel spans, averaged over the target: the figure
 * overview selection compares against. Measured from neighbouring target pixels, so it is in the source CRS
 * (UTM metres), not in the target's (Web Mercator metres are inflated by 1/cos(lat)).
 */
export function sourcePixelsPerTargetPixel(coords: SourceCoordinates, transform: Affine): number {
  const { width, height, xs, ys } = coords;
  const [a, b, , d, e] = transform;
  const sourceArea = Math.abs(a * e - b * d);
  let sum = 0;
  let count = 0;
  const stride = Math.max(1, Math.floor(Math.min(width, height) / 16));
  for (let row = 0; row + 1 < height; row += stride) {
    for (let col = 0; col + 1 < width; col += stride) {
      const i = row * width + col;
      const dxc = xs[i + 1] - xs[i];
      const dyc = ys[i + 1] - ys[i];
      const dxr = xs[i + width] - xs[i];
      const dyr = ys[i + width] - ys[i];
      const area = Math.abs(dxc * dyr - dyc * dxr);
      if (!Number.isFinite(area) || area === 0) continue;
      sum += Math.sqrt(area / sourceArea);
      count++;
    }
  }
  if (count === 0) {
    // A 1-pixel target: fall back to the ratio of the pixel sizes.
    return 1;
  }
  return sum / count;
}

/** A window of source pixels ready to be sampled. */
export interface SourceWindow {
  /** Level pixel offset of the window inside the level image. */
  x0: number;
  y0: number;
  width: number;
  height: number;
  values: ArrayLike<number>;
  /** 255 where the source pixel holds data; when absent, validity is judged per sampled pixel from the rest. */
  valid?: Uint8Array;
  /** Stored value meaning no data (NaN is never valid either). */
  nodata?: number;
  /** An internal mask over the same window: 0 = no data. */
  mask?: ArrayLike<number>;
}

export type Resampling = 'nearest' | 'bilinear';

/**
 * Samples one band of a source window at the target pixels' source positions (`pixels`, in level pixels).
 * Writes `out` and sets `outValid[i] = 0` where the sample falls outside the window or on no data;
 * `outValid` is only ever lowered, so calling this for several bands leaves the AND of their masks.
 * Bilinear uses only valid neighbours (weights renormalised) and requires the nearest pixel to be valid, so
 * the mask edge is the same as with nearest and no-data values never bleed into the result.
 */
export function sampleWindow(
  pixels: PixelCoordinates,
  source: SourceWindow,
  resampling: Resampling,
  out: Float32Array,
  outValid: Uint8Array,
): void {
  const { cols, rows } = pixels;
  const { x0, y0, width, height, values, valid, nodata, mask } = source;
  // Judged only where a sample falls (not over the whole window first): a window can be 36 Mpx, a tile 64 kpx.
  const validAt = valid
    ? (k: number) => valid[k] !== 0
    : (k: number) => {
        const value = values[k];
        return value === value && value !== nodata && (mask === undefined || mask[k] !== 0);
      };
  for (let i = 0; i < out.length; i++) {
    if (outValid[i] === 0) continue;
    const sx = cols[i] - x0;
    const sy = rows[i] - y0;
    if (!(sx >= 0 && sy >= 0 && sx < width && sy < height)) {
      outValid[i] = 0;
      continue;
    }
    const nc = Math.floor(sx);
    const nr = Math.floor(sy);
    const nearest = nr * width + nc;
    if (!validAt(nearest)) {
      outValid[i] = 0;
      continue;
    }
    if (resampling === 'nearest') {
      out[i] = values[nearest];
      continue;
    }
    const u = sx - 0.5;
    const v = sy - 0.5;
    const c0 = Math.floor(u);
    const r0 = Math.floor(v);
    const fu = u - c0;
    const fv = v - r0;
    let sum = 0;
    let weight = 0;
    for (let dr = 0; dr <= 1; dr++) {
      const r = Math.min(Math.max(r0 + dr, 0), height - 1);
      const wr = dr === 0 ? 1 - fv : fv;
      for (let dc = 0; dc <= 1; dc++) {
        const c = Math.min(Math.max(c0 + dc, 0), width - 1);
        const w = wr * (dc === 0 ? 1 - fu : fu);
        const k = r * width + c;
        if (w > 0 && validAt(k)) {
          sum += w * values[k];
          weight += w;
        }
      }
    }
    out[i] = weight > 0 ? sum / weight : values[nearest];
  }
}
