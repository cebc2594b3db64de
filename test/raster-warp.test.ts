import { join } from 'node:path';
import { fromFile } from 'geotiff';
import proj4 from 'proj4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OgcError } from '../src/errors.js';
import { coordinateTransform, normalizeCrs, transformBounds } from '../src/geo/crs.js';
import { createGuardedFetch } from '../src/net/guarded-fetch.js';
import { mapToPixel, type Grid } from '../src/raster/raster.js';
import { sampleWindow, sourceCoordinates, sourcePixelsPerTargetPixel, toPixelCoordinates, type SourceCoordinates } from '../src/raster/warp.js';
import { createSourceOpener } from '../src/sources/open.js';
import { FIXTURES, startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { tileAt } from './helpers/tiles.js';

const fetch = createGuardedFetch({ allowHosts: ['127.0.0.1'], timeoutMs: 10_000, maxBytes: 64 * 1024 * 1024, allowFileUrls: false });


describe('CRS table', () => {
  it('normalises the usual spellings and refuses unknown codes with a 400', () => {
    expect(normalizeCrs('EPSG:32634')).toBe('EPSG:32634');
    expect(normalizeCrs('http://www.opengis.net/def/crs/EPSG/0/3857')).toBe('EPSG:3857');
    expect(normalizeCrs('http://www.opengis.net/def/crs/OGC/1.3/CRS84')).toBe('EPSG:4326');
    expect(normalizeCrs('OGC:CRS84')).toBe('EPSG:4326');
    expect(normalizeCrs('urn:ogc:def:crs:EPSG::2056')).toBe('EPSG:2056');
    expect(normalizeCrs(32760)).toBe('EPSG:32760');
    expect(() => normalizeCrs('EPSG:27700')).toThrow(OgcError);
    expect(() => normalizeCrs('EPSG:27700')).toThrow(/Unsupported CRS EPSG:27700/);
    expect(() => normalizeCrs('+proj=longlat')).toThrow(/Unsupported CRS/);
  });

  it('transforms with known reference points (UTM, LV95, LAEA)', () => {
    // UTM 34N false easting at the central meridian (21°E) on the equator.
    const [e, n] = coordinateTransform('EPSG:4326', 'EPSG:32634').forward(21, 0);
    expect(e).toBeCloseTo(500000, 3);
    expect(n).toBeCloseTo(0, 3);
    // LV95 origin (Bern, old observatory) is at 2600000 / 1200000; the WGS84 position is about 7.4386E 46.9511N.
    const [x, y] = coordinateTransform('EPSG:4326', 'EPSG:2056').forward(7.438632, 46.951083);
    expect(Math.abs(x - 2600000)).toBeLessThan(5);
    expect(Math.abs(y - 1200000)).toBeLessThan(5);
    // LAEA Europe: the natural origin 10E 52N maps to the false origin.
    const [lx, ly] = coordinateTransform('EPSG:4326', 'EPSG:3035').forward(10, 52);
    expect(lx).toBeCloseTo(4321000, 3);
    expect(ly).toBeCloseTo(3210000, 3);
    const box = transformBounds([699960, 3490200, 809760, 3600000], 'EPSG:32634', 'EPSG:4326')!;
    expect(box[0]).toBeCloseTo(23.106, 2);
    expect(box[3]).toBeCloseTo(32.519, 2);
  });
});

describe('approximate transformer', () => {
  it('stays within about 0.125 pixels of exact projection for a UTM source under a WebMercator tile', () => {
    for (const [z, lon, lat] of [
      [8, 23.7, 32.0],
      [12, 23.7, 32.0],
      [5, -58.0, 73.5], // Greenland, high latitude: strong scale change across the tile
    ] as const) {
      const grid = tileAt(z, lon, lat);
      const crs = lon < 0 ? 'EPSG:32621' : 'EPSG:32634';
      const approx = sourceCoordinates(grid, crs, 100 * 0.125);
      const exact = sourceCoordinates(grid, crs, 0, 1);
      // Errors count in the coarser of the source pixel (100 m) and the target pixel seen in the source CRS.
      const pixel = Math.max(100, Math.hypot(exact.xs[1] - exact.xs[0], exact.ys[1] - exact.ys[0]));
      let worst = 0;
      for (let i = 0; i < approx.xs.length; i++) {
        worst = Math.max(worst, Math.hypot(approx.xs[i] - exact.xs[i], approx.ys[i] - exact.ys[i]) / pixel);
      }
      expect(worst).toBeLessThan(0.125);
      expect(approx.cells).toBe(256);
    }
  });

  it('projects more finely where the lattice would be wrong', () => {
    // A whole-hemisphere tile seen from one UTM zone is strongly curved: some cells must fall back to exact.
    const grid = tileAt(2, -58.0, 73.5);
    const approx = sourceCoordinates(grid, 'EPSG:32621', 12.5);
    expect(approx.exactCells).toBeGreaterThan(0);
    const tight = sourceCoordinates(tileAt(12, 23.7, 32.0), 'EPSG:32634', 12.5);
    expect(tight.exactCells).toBe(0);
  });

  /**
   * Every pixel of `grid` seen from UTM zone 21 against exact projection: within the tolerance, or 1/8 of the
   * target pixel where that is larger (doubled: the check runs at five points a cell). Returns the approximation
   * and how many pixels equal exact projection bit for bit.
   */
  function expectWithinTolerance(grid: Grid, tolerance: number): { approx: SourceCoordinates; equal: number } {
    const approx = sourceCoordinates(grid, 'EPSG:32621', tolerance);
    const exact = sourceCoordinates(grid, 'EPSG:32621', 0, 1);
    let equal = 0;
    for (let i = 0; i < approx.xs.length; i++) {
      const ex = exact.xs[i]!;
      const ey = exact.ys[i]!;
      if (!Number.isFinite(ex)) {
        expect(Number.isFinite(approx.xs[i]!) && Number.isFinite(approx.ys[i]!), `pixel ${i}`).toBe(false);
        continue;
      }
      const col = i % grid.width;
      const row = Math.floor(i / grid.width);
      const right = col + 1 < grid.width ? i + 1 : i - 1;
      const below = row + 1 < grid.height ? i + grid.width : i - grid.width;
      const pixel = Math.max(Math.hypot(exact.xs[right]! - ex, exact.ys[right]! - ey), Math.hypot(exact.xs[below]! - ex, exact.ys[below]! - ey));
      const miss = Math.hypot(approx.xs[i]! - ex, approx.ys[i]! - ey);
      if (miss === 0) equal += 1;
      if (Number.isFinite(pixel)) expect(miss, `${grid.width}x${grid.height} pixel ${col},${row}`).toBeLessThanOrEqual(Math.max(tolerance, 0.125 * pixel) * 2);
    }
    return { approx, equal };
  }

  it('on a strongly curved tile, every pixel is within the tolerance of exact, and refined cells are exact', () => {
    // A zoom-3 tile 40 degrees west of UTM zone 21's meridian: some cells refine, most interpolate.
    const { approx, equal } = expectWithinTolerance(tileAt(3, -100, 60), 12.5);
    expect(approx.exactCells).toBeGreaterThan(0);
    expect(approx.exactCells).toBeLessThan(approx.cells);
    // The refined cells' pixels were projected one by one: bit-identical to exact projection (16 x 16 pixels a
    // cell; interpolated cells match exactly only at their nodes).
    expect(equal).toBeGreaterThanOrEqual(approx.exactCells * 16 * 16);
  });

  it('checks cells one pixel thin too: a last lattice row or column of span 1 stays within the tolerance', () => {
    // 18 pixels put lattice nodes at 0, 16 and 17: the last cells are 16 x 1 (or 1 x 16) pixels and must be checked
    // along their long side like any other. A zoom-2 tile 43 degrees west of zone 21's meridian: measured with
    // exact projection, a straight line between those cells' nodes misses by up to 4 times the allowed error.
    const tile = tileAt(2, -100, 40);
    const [a, , c, , e, f] = tile.transform;
    for (const [width, height, col, row] of [[256, 18, 0, 221], [18, 256, 51, 0]]) {
      const grid: Grid = { ...tile, width, height, transform: [a, 0, c + col * a, 0, e, f + row * e] };
      expect(expectWithinTolerance(grid, 12.5).approx.exactCells, `${width}x${height}`).toBeGreaterThan(0);
    }
  });

  it('nearest keeps classes, bilinear interpolates valid neighbours only, and no data never leaks', () => {
    // 2x2 source window, one no-data pixel; target pixels sample at known fractional positions.
    const values = new Float32Array([10, 20, 30, 999]);
    const valid = new Uint8Array([255, 255, 255, 0]);
    const cols = new Float32Array([0.5, 1.0, 0.9, 1.5]);
    const rows = new Float32Array([0.5, 0.5, 0.9, 1.5]);
    const out = new Float32Array(4);
    const outValid = new Uint8Array(4).fill(255);
    sampleWindow({ cols, rows }, { x0: 0, y0: 0, width: 2, height: 2, values, valid }, 'bilinear', out, outValid);
    expect(out[0]).toBe(10); // centre of pixel (0,0)
    expect(out[1]).toBeCloseTo(15, 5); // halfway between 10 and 20
    // At (0.9, 0.9) the weights are 0.36, 0.24, 0.24 and 0.16; the no-data pixel's 0.16 is left out and the rest renormalised.
    expect(out[2]).toBeCloseTo((0.36 * 10 + 0.24 * 20 + 0.24 * 30) / 0.84, 5);
    expect(outValid[3]).toBe(0); // nearest source pixel is no data
    const nearest = new Float32Array(4);
    const nearestValid = new Uint8Array(4).fill(255);
    sampleWindow({ cols, rows }, { x0: 0, y0: 0, width: 2, height: 2, values, valid }, 'nearest', nearest, nearestValid);
    expect(Array.from(nearest.slice(0, 3))).toEqual([10, 20, 10]);
  });

  it('samples a window that does not start at the level origin, clamps neighbours at its edges and skips what is already invalid', () => {
    // A 3x2 window at level pixels (10, 5)..(13, 7).
    const source = { x0: 10, y0: 5, width: 3, height: 2, values: new Float32Array([1, 2, 3, 4, 5, 6]), valid: new Uint8Array(6).fill(255) };
    const cols = new Float32Array([10.5, 10.2, 12.9, 11.5, 9.9, 13.0, 11.5, 11.25]);
    const rows = new Float32Array([5.5, 5.2, 6.9, 6.0, 5.5, 5.5, 4.99, 5.75]);
    const out = new Float32Array(8);
    const outValid = new Uint8Array(8).fill(255);
    outValid[7] = 0; // already invalid from another band: left alone
    sampleWindow({ cols, rows }, source, 'bilinear', out, outValid);
    expect(out[0]).toBe(1); // centre of the window's first pixel
    expect(out[1]).toBe(1); // before the first centre: both neighbours clamp to column 0 / row 0
    expect(out[2]).toBe(6); // past the last centre: clamps to the last pixel
    // (1.5, 1.0) in the window: on column 1's centre, halfway between rows 0 and 1 -> (2 + 5) / 2
    expect(out[3]).toBeCloseTo(0.5 * 2 + 0.5 * 5, 5);
    expect(Array.from(outValid)).toEqual([255, 255, 255, 255, 0, 0, 0, 0]); // left of, right of, above the window
    expect(out[7]).toBe(0);
    const nearest = new Float32Array(4);
    sampleWindow({ cols: cols.subarray(0, 4), rows: rows.subarray(0, 4) }, source, 'nearest', nearest, new Uint8Array(4).fill(255));
    expect(Array.from(nearest)).toEqual([1, 1, 6, 5]);
  });

  it('takes a sample on the window\'s first row and column, refuses one on its far edges, and weighs bilinear neighbours off the origin', () => {
    // 3x3 window at level pixels (20, 30); value = 10 * row + col.
    const values = Float32Array.from({ length: 9 }, (_, k) => 10 * Math.floor(k / 3) + (k % 3));
    const source = { x0: 20, y0: 30, width: 3, height: 3, values, nodata: -9999 };
    const cols = new Float32Array([20, 23, 21.75, 20.5, 22.999]);
    const rows = new Float32Array([30, 31.5, 32.25, 33, 32.999]);
    const out = new Float32Array(5);
    const outValid = new Uint8Array(5).fill(255);
    sampleWindow({ cols, rows }, source, 'bilinear', out, outValid);
    // Exactly on the window's top-left corner: inside (nearest pixel 0, both neighbours clamp to it).
    expect([outValid[0], out[0]]).toEqual([255, 0]);
    // Exactly on the right or bottom edge: outside.
    expect([outValid[1], outValid[3]]).toEqual([0, 0]);
    // (1.75, 2.25) in the window: u = 1.25, v = 1.75 -> columns 1..2 at 0.75/0.25, rows 1..2 at 0.25/0.75.
    const expected = 0.25 * (0.75 * values[4]! + 0.25 * values[5]!) + 0.75 * (0.75 * values[7]! + 0.25 * values[8]!);
    expect(out[2]).toBeCloseTo(expected, 5);
    expect(out[4]).toBeCloseTo(22, 5); // just inside the far corner: clamps to the last pixel
  });

  it('without a validity array, judges each sampled pixel: NaN, the no-data value and a masked pixel are never used', () => {
    // 3x3 window as the COG reader passes it (values, nodata, internal mask): pixel 1 is NaN, pixel 3 the no-data
    // value, pixel 5 masked out.
    const values = new Float32Array([1, NaN, 3, -9999, 12, 13, 21, 22, 23]);
    const source = { x0: 0, y0: 0, width: 3, height: 3, values, nodata: -9999, mask: new Uint8Array([255, 255, 255, 255, 255, 0, 255, 255, 255]) };
    // Centres of pixels 1, 3, 5 and 7, then (1.9, 1.1).
    const cols = new Float32Array([1.5, 0.5, 2.5, 1.5, 1.9]);
    const rows = new Float32Array([0.5, 1.5, 1.5, 2.5, 1.1]);
    for (const resampling of ['nearest', 'bilinear'] as const) {
      const out = new Float32Array(5);
      const outValid = new Uint8Array(5).fill(255);
      sampleWindow({ cols, rows }, source, resampling, out, outValid);
      expect(Array.from(outValid), resampling).toEqual([0, 0, 0, 255, 255]);
      expect(out[3], resampling).toBe(22);
      // (1.9, 1.1): nearest pixel 4; bilinear neighbours 1 (NaN, weight 0.24), 2 (0.16), 4 (0.36), 5 (masked, 0.24).
      if (resampling === 'nearest') expect(out[4]).toBe(12);
      else expect(out[4]).toBeCloseTo((0.16 * 3 + 0.36 * 12) / 0.52, 5);
    }
  });

  it('in the source CRS itself, gives every pixel centre of a rotated grid exactly', () => {
    // x = a (col + 0.5) + b (row + 0.5) + c, y = d (col + 0.5) + e (row + 0.5) + f, with b and d not zero.
    const coords = sourceCoordinates({ crs: 'EPSG:32634', width: 2, height: 2, transform: [10, 3, 1000, 2, -20, 5000] }, 'EPSG:32634', 1);
    const x = (col: number, row: number) => 10 * (col + 0.5) + 3 * (row + 0.5) + 1000;
    const y = (col: number, row: number) => 2 * (col + 0.5) - 20 * (row + 0.5) + 5000;
    expect(Array.from(coords.xs)).toEqual([x(0, 0), x(1, 0), x(0, 1), x(1, 1)]);
    expect(Array.from(coords.ys)).toEqual([y(0, 0), y(1, 0), y(0, 1), y(1, 1)]);
    // Through a reprojection the same pixel centres go in: compare with proj4 at each centre of a rotated grid.
    const rotated = { crs: 'EPSG:32634', width: 2, height: 2, transform: [10, 3, 700000, 2, -20, 3600000] as Grid['transform'] };
    const geographic = sourceCoordinates(rotated, 'EPSG:4326', 1e-9, 1);
    const utm34 = '+proj=utm +zone=34 +datum=WGS84 +units=m +no_defs';
    [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ].forEach(([col, row], k) => {
      const [lon, lat] = proj4(utm34, 'EPSG:4326', [10 * (col! + 0.5) + 3 * (row! + 0.5) + 700000, 2 * (col! + 0.5) - 20 * (row! + 0.5) + 3600000]);
      expect(geographic.xs[k]).toBeCloseTo(lon!, 9);
      expect(geographic.ys[k]).toBeCloseTo(lat!, 9);
    });
  });

  it('in the source CRS itself, gives every pixel centre exactly, without a lattice', () => {
    const coords = sourceCoordinates({ crs: 'EPSG:32634', width: 3, height: 2, transform: [10, 0, 1000, 0, -20, 5000] }, 'EPSG:32634', 1);
    expect(Array.from(coords.xs)).toEqual([1005, 1015, 1025, 1005, 1015, 1025]);
    expect(Array.from(coords.ys)).toEqual([4990, 4990, 4990, 4970, 4970, 4970]);
    expect([coords.width, coords.height, coords.cells, coords.exactCells]).toEqual([3, 2, 0, 0]);
  });

  it("marks points proj4 cannot bring back (beside the UTM zone's singular points) as unusable, and keeps every other exactly", () => {
    // Two-degree pixels around lon -69, lat 0: 90 degrees from zone 34's meridian, where transverse Mercator breaks
    // down and proj4 returns finite positions that do not invert to the point they came from.
    const grid: Grid = { crs: 'EPSG:4326', width: 20, height: 30, transform: [2, 0, -90, 0, -2, 30] };
    const coords = sourceCoordinates(grid, 'EPSG:32634', 0, 1);
    const utm = proj4('EPSG:4326', '+proj=utm +zone=34 +datum=WGS84 +units=m +no_defs');
    let kept = 0;
    let dropped = 0;
    for (let row = 0; row < grid.height; row++) {
      for (let col = 0; col < grid.width; col++) {
        const lonLat = [-90 + (col + 0.5) * 2, 30 - (row + 0.5) * 2];
        const forward = utm.forward(lonLat);
        const i = row * grid.width + col;
        if (!forward.every(Number.isFinite)) {
          expect(Number.isFinite(coords.xs[i]!), `${lonLat}`).toBe(false);
          continue;
        }
        const back = utm.inverse(forward);
        // Half a target pixel is the allowed round-trip miss.
        if (Math.hypot(back[0]! - lonLat[0]!, back[1]! - lonLat[1]!) <= 1) {
          kept++;
          expect([coords.xs[i], coords.ys[i]], `${lonLat}`).toEqual(forward);
        } else {
          dropped++;
          expect([coords.xs[i], coords.ys[i]], `${lonLat}`).toEqual([NaN, NaN]);
        }
      }
    }
    expect(dropped).toBeGreaterThan(0);
    expect(kept).toBeGreaterThan(dropped);
  });

  it('covers sizes that are not a multiple of the lattice step, and a single pixel, to the tolerance', () => {
    for (const [width, height] of [[20, 37], [1, 1], [17, 1], [2, 2]]) {
      const grid: Grid = { crs: 'EPSG:3857', width, height, transform: [30, 0, 2637000, 0, -30, 3764000] };
      const approx = sourceCoordinates(grid, 'EPSG:32634', 100 * 0.125);
      const exact = sourceCoordinates(grid, 'EPSG:32634', 0, 1);
      let worst = 0;
      for (let i = 0; i < width * height; i++) worst = Math.max(worst, Math.hypot(approx.xs[i]! - exact.xs[i]!, approx.ys[i]! - exact.ys[i]!));
      expect(worst, `${width}x${height}`).toBeLessThan(12.5);
      expect(approx.xs.every(Number.isFinite), `${width}x${height}`).toBe(true);
      // The exact run projects every pixel: the first pixel centre by hand.
      const [x, y] = proj4('EPSG:3857', '+proj=utm +zone=34 +datum=WGS84 +units=m +no_defs', [2637000 + 15, 3764000 - 15]);
      expect(exact.xs[0]).toBeCloseTo(x!, 6);
      expect(exact.ys[0]).toBeCloseTo(y!, 6);
    }
    expect(sourceCoordinates({ crs: 'EPSG:3857', width: 20, height: 37, transform: [30, 0, 2637000, 0, -30, 3764000] }, 'EPSG:32634', 12.5).cells).toBe(6);
  });

  it('measures how many source pixels a target pixel spans', () => {
    const coords = (width: number, height: number, size: number): SourceCoordinates =>
      sourceCoordinates({ crs: 'EPSG:32634', width, height, transform: [size, 0, 0, 0, -size, 0] }, 'EPSG:32634', 1);
    expect(sourcePixelsPerTargetPixel(coords(40, 40, 20), [10, 0, 0, 0, -10, 0])).toBeCloseTo(2, 12);
    expect(sourcePixelsPerTargetPixel(coords(40, 3, 5), [10, 0, 0, 0, -10, 0])).toBeCloseTo(0.5, 12);
    // Rotated source pixels of the same size count the same.
    const r = Math.SQRT1_2 * 10;
    expect(sourcePixelsPerTargetPixel(coords(8, 8, 10), [r, r, 0, r, -r, 0])).toBeCloseTo(1, 12);
    // A single row or column has no neighbours to measure: 1.
    expect(sourcePixelsPerTargetPixel(coords(1, 1, 20), [10, 0, 0, 0, -10, 0])).toBe(1);
    expect(sourcePixelsPerTargetPixel(coords(5, 1, 20), [10, 0, 0, 0, -10, 0])).toBe(1);
  });

  it('averages the span over every sampled cell, from forward differences, skipping cells it cannot measure', () => {
    const grid = (width: number, height: number, x: (col: number, row: number) => number, y: (col: number, row: number) => number): SourceCoordinates => {
      const xs = new Float64Array(width * height);
      const ys = new Float64Array(width * height);
      for (let row = 0; row < height; row++) {
        for (let col = 0; col < width; col++) {
          xs[row * width + col] = x(col, row);
          ys[row * width + col] = y(col, row);
        }
      }
      return { xs, ys, width, height, exactCells: 0, cells: 0 };
    };
    const tenMetres: [number, number, number, number, number, number] = [10, 0, 0, 0, -10, 0];
    // x = 10 col + 5 row, y = 2 col - 10 row^2: per cell dx/dcol = 10, dy/dcol = 2, dx/drow = 5 and
    // dy/drow = -10 (2 row + 1), so the cell's area is 100 (2 row + 1) + 10 m^2 and it spans
    // sqrt(2 row + 1.1) source pixels of 10 m. 32 x 4 pixels: stride 1 (min side 4 < 16), rows 0-2 measured,
    // each with the same number of columns, so the figure is the mean over those three rows.
    const stretched = grid(32, 4, (col, row) => 10 * col + 5 * row, (col, row) => 2 * col - 10 * row * row);
    expect(sourcePixelsPerTargetPixel(stretched, tenMetres)).toBeCloseTo((Math.sqrt(1.1) + Math.sqrt(3.1) + Math.sqrt(5.1)) / 3, 12);
    // A cell collapsed to a point, or one touching a point that could not be transformed, is not measured:
    // with no measurable cell left the figure falls back to 1 (not 0, not NaN).
    expect(sourcePixelsPerTargetPixel(grid(2, 2, () => 500, () => 700), tenMetres)).toBe(1);
    expect(sourcePixelsPerTargetPixel(grid(2, 2, (col, row) => (col === 1 && row === 0 ? NaN : 10 * col), (col, row) => -10 * row), tenMetres)).toBe(1);
  });

  it('inverts rotated and sheared affines into pixel coordinates', () => {
    // x = 2 col + row + 100, y = col - 3 row + 50 (determinant -7)
    const transform: [number, number, number, number, number, number] = [2, 1, 100, 1, -3, 50];
    const points = [[1, 2], [0, 0], [3.5, -1.25]];
    const coords = { xs: Float64Array.from(points.map(([c, r]) => 2 * c! + r! + 100)), ys: Float64Array.from(points.map(([c, r]) => c! - 3 * r! + 50)), width: 3, height: 1, exactCells: 0, cells: 0 };
    const { cols, rows } = toPixelCoordinates(coords, transform);
    points.forEach(([c, r], i) => {
      expect(cols[i]).toBeCloseTo(c!, 5);
      expect(rows[i]).toBeCloseTo(r!, 5);
    });
  });

  it('maps pixel coordinates with the window affine', () => {
    const coords = sourceCoordinates({ crs: 'EPSG:32634', width: 2, height: 1, transform: [100, 0, 700000, 0, -100, 3600000] }, 'EPSG:32634', 1);
    const { cols, rows } = toPixelCoordinates(coords, [50, 0, 700000, 0, -50, 3600000]);
    expect(Array.from(cols)).toEqual([1, 3]);
    expect(Array.from(rows)).toEqual([1, 1]);
    expect(mapToPixel([50, 0, 700000, 0, -50, 3600000], 700100, 3599900)).toEqual([2, 2]);
  });
});

describe('reprojecting real rasters', () => {
  let server: FixtureServer;
  let demRange: [number, number];
  beforeAll(async () => {
    server = await startFixtureServer();
    const [dem] = (await (await (await fromFile(join(FIXTURES, 'cog/titiler/dem.tif'))).getImage(0)).readRasters()) as unknown as Float32Array[];
    demRange = [dem.reduce((a, b) => Math.min(a, b)), dem.reduce((a, b) => Math.max(a, b))];
  });
  afterAll(() => server.close());

  it('reprojects the Swiss LV95 DEM onto WebMercator with values in the source range and the outside masked', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}/cog/titiler/dem.tif`, 'DEM');
    expect(reader.crs).toBe('EPSG:2056');
    // dem.tif covers 2573000-2574000 E, 1085000-1086000 N: about 7.0906-7.1036E, 45.916-45.925N.
    expect(reader.bounds[0]).toBeCloseTo(7.0906, 3);
    expect(reader.bounds[1]).toBeCloseTo(45.916, 3);
    const centre: [number, number] = [(reader.bounds[0] + reader.bounds[2]) / 2, (reader.bounds[1] + reader.bounds[3]) / 2];
    const grid = tileAt(15, centre[0], centre[1]); // ~850 m ground tile, larger than the 1 km DEM? no: 1222 m wide
    const raster = await reader.read(grid);
    let valid = 0;
    let nonZeroMasked = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < raster.mask.length; i++) {
      if (!raster.mask[i]) {
        if (raster.bands[0][i] !== 0) nonZeroMasked++;
        continue;
      }
      valid++;
      min = Math.min(min, raster.bands[0][i]);
      max = Math.max(max, raster.bands[0][i]);
    }
    expect(nonZeroMasked).toBe(0);
    expect(valid).toBeGreaterThan(1000);
    expect(valid).toBeLessThan(256 * 256); // part of the tile lies outside the DEM
    expect(min).toBeGreaterThanOrEqual(demRange[0] - 1e-3);
    expect(max).toBeLessThanOrEqual(demRange[1] + 1e-3);
    // Masked pixels are exactly those whose centre falls outside the DEM footprint (in LV95).
    const toLv95 = proj4('EPSG:3857', 'EPSG:2056');
    let agree = 0;
    for (let row = 0; row < 256; row++) {
      for (let col = 0; col < 256; col++) {
        const [x, y] = toLv95.forward([grid.transform[2] + (col + 0.5) * grid.transform[0], grid.transform[5] + (row + 0.5) * grid.transform[4]]);
        const inside = x >= 2573000 && x < 2574000 && y > 1085000 && y <= 1086000;
        if (inside === (raster.mask[row * 256 + col] === 255)) agree++;
      }
    }
    expect(agree / (256 * 256)).toBeGreaterThan(0.995);
  });

  it('puts a small scene only where it belongs on a low-zoom tile (no ghosts from far-away points)', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}/cog/titiler/TCI.tif`, 'S2RGB');
    const grid = tileAt(3, 23.7, 32.0); // ~19.6 km pixels over a 110 km scene
    const raster = await reader.read(grid);
    let valid = 0;
    for (let row = 0; row < 256; row++) {
      for (let col = 0; col < 256; col++) {
        if (!raster.mask[row * 256 + col]) continue;
        valid++;
        const [lon, lat] = proj4('EPSG:3857', 'EPSG:4326', [grid.transform[2] + (col + 0.5) * grid.transform[0], grid.transform[5] + (row + 0.5) * grid.transform[4]]);
        expect(lon).toBeGreaterThan(reader.bounds[0] - 0.3);
        expect(lon).toBeLessThan(reader.bounds[2] + 0.3);
        expect(lat).toBeGreaterThan(reader.bounds[1] - 0.3);
        expect(lat).toBeLessThan(reader.bounds[3] + 0.3);
      }
    }
    expect(valid).toBeGreaterThan(5);
    expect(valid).toBeLessThan(60);
  });

  it('reads onto a geographic (EPSG:4326, WorldCRS84Quad-style) grid with the source colours', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}/cog/titiler/TCI.tif`, 'S2RGB');
    const grid: Grid = { crs: 'EPSG:4326', width: 128, height: 128, transform: [0.0005, 0, 23.85, 0, -0.0005, 32.05] };
    const raster = await reader.read(grid, { resampling: 'nearest' });
    const [red] = (await (await (await fromFile(join(FIXTURES, 'cog/titiler/TCI.tif'))).getImage(0)).readRasters({ samples: [0] })) as unknown as Uint8Array[];
    const toUtm = proj4('EPSG:4326', 'EPSG:32634');
    let equal = 0;
    for (let row = 0; row < 128; row++) {
      for (let col = 0; col < 128; col++) {
        const [x, y] = toUtm.forward([23.85 + (col + 0.5) * 0.0005, 32.05 - (row + 0.5) * 0.0005]);
        const expected = red[Math.floor((3600000 - y) / 100) * 1098 + Math.floor((x - 699960) / 100)];
        if (raster.bands[0][row * 128 + col] === expected && raster.mask[row * 128 + col] === 255) equal++;
      }
    }
    expect(equal / (128 * 128)).toBeGreaterThan(0.99);
  });

  it('places PixelIsPoint rasters like GDAL (half-pixel shift) and reads a 3857 COG without reprojection', async () => {
    const opener = createSourceOpener({ fetch });
    // rio-tiler's cog.tif is PixelIsPoint; GDAL/rasterio report its bounds as 373185, ..., 8286015.
    const landsat = await opener.open(`${server.url}/cog/rio-tiler/cog.tif`, 'DEM');
    const [west, , , north] = transformBounds(landsat.bounds, 'EPSG:4326', 'EPSG:32621')!;
    expect(west).toBeLessThan(373185 + 1);
    expect(north).toBeGreaterThan(8286015 - 1);
    const web = await opener.open(`${server.url}/cog/rio-tiler/web.tif`, 'DEM');
    expect(web.crs).toBe('EPSG:3857');
    // web.tif is PixelIsPoint too: its pixel corners sit half a pixel up-left of the tie point.
    const px = 611.49622628141;
    const grid: Grid = { crs: 'EPSG:3857', width: 64, height: 64, transform: [px, 0, -8766104.151857153 - px / 2 + 300 * px, 0, -px, 6104872.575080456 + px / 2 - 300 * px] };
    const raster = await web.read(grid, { resampling: 'nearest' });
    const [band] = (await (await (await fromFile(join(FIXTURES, 'cog/rio-tiler/web.tif'))).getImage(0)).readRasters()) as unknown as Uint16Array[];
    let mismatches = 0;
    for (let row = 0; row < 64; row++) {
      for (let col = 0; col < 64; col++) {
        const source = band[(300 + row) * 1024 + 300 + col];
        const i = row * 64 + col;
        if (source === 0 ? raster.mask[i] !== 0 : raster.bands[0][i] !== source) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it('reads LULC onto WebMercator with nearest by default, so only source classes appear', async () => {
    const opener = createSourceOpener({ fetch });
    const reader = await opener.open(`${server.url}/terramind-examples/LULC/282D_485L_3_3.tif`, 'LULC');
    const centre: [number, number] = [(reader.bounds[0] + reader.bounds[2]) / 2, (reader.bounds[1] + reader.bounds[3]) / 2];
    const raster = await reader.read(tileAt(15, centre[0], centre[1]));
    const classes = new Set<number>();
    raster.bands[0].forEach((v, i) => raster.mask[i] && classes.add(v));
    expect([...classes].every((c) => [1, 2, 6, 9].includes(c))).toBe(true);
    expect(classes.size).toBeGreaterThan(1);
  });
});
