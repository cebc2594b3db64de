import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../src/cache/single-flight.js';
import { OgcError } from '../src/errors.js';
import { WindowBlender } from '../src/generation/blend.js';
import { decodeChip, encodeChip, type ChipValues } from '../src/generation/chip-codec.js';
import {
  alignedWindow,
  chipGrid,
  chipsCovering,
  chipsPerAxis,
  latticeFor,
  latticeWindow,
  utmZoneOf,
  windowForTarget,
  windowGrid,
} from '../src/generation/lattice.js';
import { WorkQueue } from '../src/generation/work-queue.js';

/**
 * The chip engine's arithmetic, pinned by values computed by hand from its definitions (docs/generation.md):
 * the anchored lattice, which chips cover a window, the reference's raised-cosine blend weights, the chip codec's
 * error bound, and the queue's and single-flight's bookkeeping.
 */
const UTM36S = { crs: 'EPSG:32736', resolution: 10, phase: [1.819878, 8.227452] as [number, number] };

describe('anchored chip lattice', () => {
  it('takes the phase of a 10 m source, none from other resolutions, and UTM for geographic sources', () => {
    // The TerraMind example chip 38D_378R_2_3: origin (617301.819878, 9625098.227452), 10 m.
    expect(latticeFor({ crs: 'EPSG:32736', resolution: 10, origin: [617301.819878449, 9625098.227451841], bounds: [34, -3.4, 34.1, -3.3] })).toEqual(UTM36S);
    expect(latticeFor({ crs: 'EPSG:32736', resolution: 10, origin: [-617301.8, 600000], bounds: [34, -3.4, 34.1, -3.3] }).phase).toEqual([8.2, 0]); // -617301.8 = -61731 * 10 + 8.2
    expect(latticeFor({ crs: 'EPSG:32736', resolution: 20, origin: [617301.8, 9625098.2], bounds: [34, -3.4, 34.1, -3.3] }).phase).toEqual([0, 0]);
    // Copernicus DEM in EPSG:4326 over Tanzania (lon 34.06, lat -3.4): UTM zone 36 south.
    expect(latticeFor({ crs: 'EPSG:4326', resolution: 0.000277, origin: [34, -3], bounds: [34.0, -3.5, 34.12, -3.3] })).toEqual({
      crs: 'EPSG:32736',
      resolution: 10,
      phase: [0, 0],
    });
    expect(utmZoneOf([-0.5, 51, 0.5, 52])).toBe('EPSG:32631'); // Greenwich, north
    expect(utmZoneOf([-179.9, -10, -179.5, -9])).toBe('EPSG:32701');
    expect(utmZoneOf([179.5, 10, 179.9, 11])).toBe('EPSG:32660');
  });

  it('places chip (i, j) at (p + 1920 i, q + 1920 j) with 224 pixels of 10 m', () => {
    const grid = chipGrid(UTM36S, { i: 321, j: 5012 });
    // Corner (lower left) at p + 1920*321 = 616321.819878, q + 1920*5012 = 9623048.227452; the raster's top is 2240 m above.
    expect(grid.transform[0]).toBe(10);
    expect(grid.transform[2]).toBeCloseTo(616321.819878, 6);
    expect(grid.transform[5]).toBeCloseTo(9623048.227452 + 2240, 6);
    expect(grid.transform[4]).toBe(-10);
    expect([grid.width, grid.height]).toEqual([224, 224]);
    expect(chipGrid(UTM36S, { i: -2, j: 0 }).transform[2]).toBeCloseTo(1.819878 - 3840, 6);
  });

  it('covers a window with every chip whose 224-pixel span meets it, north to south', () => {
    // Columns [0, 224) meet chip -1 ([-192, 32)), chip 0 ([0, 224)) and chip 1 ([192, 416)).
    const one = chipsCovering({ col0: 0, row0: 0, col1: 224, row1: 224 });
    expect(one).toHaveLength(9);
    expect(one[0]).toEqual({ i: -1, j: 1 });
    expect(one.at(-1)).toEqual({ i: 1, j: -1 });
    // The interior [32, 192) of chip 0 is covered by chip 0 alone.
    expect(chipsCovering({ col0: 32, row0: 32, col1: 192, row1: 192 })).toEqual([{ i: 0, j: 0 }]);
    // One pixel in an overlap: both chips.
    expect(chipsCovering({ col0: 200, row0: 40, col1: 201, row1: 41 })).toEqual([
      { i: 0, j: 0 },
      { i: 1, j: 0 },
    ]);
    expect(chipsCovering({ col0: 5, row0: 5, col1: 5, row1: 9 })).toEqual([]);
  });

  it('snaps bboxes outward to whole pixels and recognises lattice-aligned grids', () => {
    const window = latticeWindow(UTM36S, [617301.819878, 9622858.227452, 619541.819878, 9625098.227452]);
    expect(window).toEqual({ col0: 61730, row0: 962285, col1: 61954, row1: 962509 });
    expect(latticeWindow(UTM36S, [617305, 9622860, 617306, 9622861])).toEqual({ col0: 61730, row0: 962285, col1: 61731, row1: 962286 });
    const grid = windowGrid(UTM36S, window);
    expect(alignedWindow(UTM36S, grid)).toEqual(window);
    expect(alignedWindow(UTM36S, { ...grid, transform: [10, 0, grid.transform[2] + 5, 0, -10, grid.transform[5]] })).toBeUndefined();
    expect(alignedWindow(UTM36S, { ...grid, crs: 'EPSG:32636' })).toBeUndefined();
  });

  it('bounds the chips a tile can touch over every placement', () => {
    // 160 pixels fit inside one chip's 192-pixel stride but can straddle an overlap: at most 2 chips.
    expect(chipsPerAxis(1)).toBe(2);
    expect(chipsPerAxis(160)).toBe(2);
    // 256 pixels: 3; a zoom-13 Web Mercator tile at the equator spans 4892 m = 489 px (+4): 4.
    expect(chipsPerAxis(256)).toBe(3);
    expect(chipsPerAxis(493)).toBe(4);
  });
});

describe('blending with the reference raised-cosine weights', () => {
  /** w(k) on the infinite lattice, from terramind-reference.md §4.5: ramps over the 32-pixel overlap, + 1e-6. */
  const ramp = (k: number) => {
    if (k < 32) return 1 - (Math.cos((Math.PI * (k + 1)) / 33) / 2 + 0.5) + 1e-6;
    if (k >= 192) return Math.cos((Math.PI * (k - 192 + 1)) / 33) / 2 + 0.5 + 1e-6;
    return 1 + 1e-6;
  };
  const flat = (value: number, planes = 1): ChipValues => ({
    width: 224,
    height: 224,
    bands: Array.from({ length: planes }, (_, c) => new Float32Array(224 * 224).fill(value + c)),
    mask: new Uint8Array(224 * 224).fill(255),
  });

  it('averages two overlapping chips with w_a v_a + w_b v_b over w_a + w_b along the overlap', () => {
    // Window: one row of columns [180, 230) at lattice row 100 (inside chip row 0 only, interior in y).
    const window = { col0: 180, row0: 100, col1: 230, row1: 101 };
    const blender = new WindowBlender(window, 1);
    blender.add({ i: 0, j: 0 }, flat(10));
    blender.add({ i: 1, j: 0 }, flat(20));
    const { bands, mask } = blender.finish(false);
    expect(mask.every((v) => v === 255)).toBe(true);
    for (const col of [180, 191, 192, 193, 200, 207, 208, 223, 224, 229]) {
      const wa = col < 224 ? ramp(col) : 0; // chip 0 covers [0, 224)
      const wb = col >= 192 ? ramp(col - 192) : 0; // chip 1 covers [192, 416)
      const wy = ramp(100);
      const expected = (wa * wy * 10 + wb * wy * 20) / (wa * wy + wb * wy);
      expect(bands[0]![col - 180]).toBeCloseTo(expected, 4);
    }
    // Hand values: at column 192 (first overlap pixel) chip 1 weighs 1 - (cos(pi/33)/2 + 0.5) = 0.0022640.
    expect(bands[0]![192 - 180]).toBeCloseTo((0.997736 * 10 + 0.002265 * 20) / (0.997736 + 0.002265), 3);
    // At columns 207 and 208 (the middle of the overlap) chip 0 weighs cos(pi*16/33)/2+0.5 = 0.52379, then 0.47621.
    expect(bands[0]![207 - 180]).toBeCloseTo(0.52379 * 10 + 0.47621 * 20, 3);
    expect(bands[0]![208 - 180]).toBeCloseTo(0.47621 * 10 + 0.52379 * 20, 3);
  });

  it('takes the argmax of the blended class scores, never an average of class indices', () => {
    const window = { col0: 200, row0: 100, col1: 216, row1: 101 };
    const blender = new WindowBlender(window, 3);
    // Chip 0 scores 10 for class 2, chip 1 scores 10 for class 0, 0 elsewhere; an index average would give class 1.
    const a = flat(0, 3);
    a.bands.forEach((band, c) => band.fill(c === 2 ? 10 : 0));
    const b = flat(0, 3);
    b.bands.forEach((band, c) => band.fill(c === 0 ? 10 : 0));
    blender.add({ i: 0, j: 0 }, a);
    blender.add({ i: 1, j: 0 }, b);
    const { bands } = blender.finish(true);
    // Chip 0 weighs more up to column 207 (0.52379), chip 1 from 208 on; never class 1.
    expect([...bands[0]!]).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    // A tie goes to the lowest class index, as torch.argmax (the reference) does.
    const tie = new WindowBlender({ col0: 100, row0: 100, col1: 102, row1: 101 }, 3);
    const scores = flat(0, 3);
    scores.bands.forEach((band, c) => band.fill(c === 0 ? 1 : 5));
    tie.add({ i: 0, j: 0 }, scores);
    expect([...tie.finish(true).bands[0]!]).toEqual([1, 1]);
  });

  it('puts every chip pixel where the lattice says, over a window that cuts four chips, north-up', () => {
    // Chip (i, j) covers lattice columns [192 i, 192 i + 224) and rows [192 j, 192 j + 224); its raster row 0 is
    // lattice row 192 j + 223 (north-up). Each chip's pixel (x, y) holds a value unique to chip and position.
    const value = (i: number, j: number, x: number, y: number) => (x + 256 * y) * (1 + i + 2 * j);
    const chip = (i: number, j: number, planes = 2): ChipValues => ({
      width: 224,
      height: 224,
      bands: Array.from({ length: planes }, (_, c) => Float32Array.from({ length: 224 * 224 }, (_, k) => value(i, j, k % 224, Math.floor(k / 224)) + 7 * c)),
      mask: new Uint8Array(224 * 224).fill(255),
    });
    const window = { col0: 170, row0: 185, col1: 236, row1: 240 };
    const width = window.col1 - window.col0;
    const blender = new WindowBlender(window, 2);
    const chips = [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ] as const;
    const masked = chip(1, 1);
    // Chip (1, 1) had an invalid input at lattice column 200, row 230: x = 200 - 192 = 8, y = 192 + 223 - 230 = 185.
    masked.mask[185 * 224 + 8] = 0;
    for (const [i, j] of chips) blender.add({ i, j }, i === 1 && j === 1 ? masked : chip(i, j));
    blender.add({ i: 3, j: 3 }, chip(3, 3)); // does not reach the window: no effect
    const { bands, mask } = blender.finish(false);
    expect(bands).toHaveLength(2);
    let checked = 0;
    for (let row = window.row0; row < window.row1; row += 1) {
      for (let col = window.col0; col < window.col1; col += 1) {
        const out = (window.row1 - 1 - row) * width + (col - window.col0);
        if (col === 200 && row === 230) {
          expect([mask[out], bands[0]![out], bands[1]![out]]).toEqual([0, 0, 0]);
          continue;
        }
        let sum = 0;
        let weights = 0;
        for (const [i, j] of chips) {
          const x = col - 192 * i;
          const y = 192 * j + 223 - row;
          if (x < 0 || x >= 224 || y < 0 || y >= 224) continue;
          const w = ramp(x) * ramp(row - 192 * j);
          sum += w * value(i, j, x, y);
          weights += w;
        }
        expect(mask[out]).toBe(255);
        const expected = sum / weights;
        expect(Math.abs(bands[0]![out]! - expected), `col ${col} row ${row}`).toBeLessThanOrEqual(1e-5 * Math.abs(expected) + 1e-3);
        expect(Math.abs(bands[1]![out]! - (expected + 7))).toBeLessThanOrEqual(1e-5 * Math.abs(expected) + 1e-3);
        checked += 1;
      }
    }
    expect(checked).toBe(width * (window.row1 - window.row0) - 1);
  });

  it('refuses a chip whose plane count is not the window\'s, and ignores chips outside the window', () => {
    const blender = new WindowBlender({ col0: 0, row0: 0, col1: 10, row1: 10 }, 2);
    expect(() => blender.add({ i: 0, j: 0 }, flat(1, 3))).toThrow('chip has 3 planes, the blend expects 2');
    // Outside: neither checked nor counted (chip (2, 0) starts at column 384).
    blender.add({ i: 2, j: 0 }, flat(1, 3));
    blender.add({ i: 0, j: 0 }, flat(4, 2));
    const { bands, mask } = blender.finish(false);
    expect(mask.every((v) => v === 255)).toBe(true);
    expect(bands[0]!.every((v) => Math.abs(v - 4) < 1e-5)).toBe(true);
    expect(bands[1]!.every((v) => Math.abs(v - 5) < 1e-5)).toBe(true);
  });

  it('masks a pixel when any covering chip had an invalid input there, or when no chip covers it', () => {
    const window = { col0: 190, row0: 100, col1: 196, row1: 101 };
    const blender = new WindowBlender(window, 1);
    const a = flat(10);
    a.mask[(223 - 100) * 224 + 194] = 0; // chip 0, column 194 at lattice row 100 (raster row 123)
    blender.add({ i: 0, j: 0 }, a);
    blender.add({ i: 1, j: 0 }, undefined); // chip 1 had no valid input at all
    const { mask, bands } = blender.finish(false);
    expect([...mask]).toEqual([255, 255, 0, 0, 0, 0]);
    expect(bands[0]![0]).toBeCloseTo(10, 5);
    const empty = new WindowBlender({ col0: 0, row0: 0, col1: 2, row1: 1 }, 1).finish(false);
    expect([...empty.mask]).toEqual([0, 0]);
  });
});

describe('anchored chip lattice: edges and refusals', () => {
  it('anchors Web Mercator sources on UTM too, takes a phase only from 10 m pixels, and wraps a phase of 10 to 0', () => {
    expect(latticeFor({ crs: 'EPSG:3857', resolution: 10, origin: [3.5, 7.25], bounds: [34.0, -3.5, 34.12, -3.3] })).toEqual({ crs: 'EPSG:32736', resolution: 10, phase: [0, 0] });
    // 10 m within a part in a million is 10 m; 10.001 m is not.
    expect(latticeFor({ crs: 'EPSG:32736', resolution: 10.000001, origin: [3.5, 7.25], bounds: [34, -3.4, 34.1, -3.3] }).phase).toEqual([3.5, 7.25]);
    expect(latticeFor({ crs: 'EPSG:32736', resolution: 10.001, origin: [3.5, 7.25], bounds: [34, -3.4, 34.1, -3.3] }).phase).toEqual([0, 0]);
    expect(latticeFor({ crs: 'EPSG:32736', resolution: 10, bounds: [34, -3.4, 34.1, -3.3] }).phase).toEqual([0, 0]);
    // 599999.9999999 is 600000 to a micrometre: phase 0, not 10.
    expect(latticeFor({ crs: 'EPSG:32736', resolution: 10, origin: [599999.9999999, 20.0000004], bounds: [34, -3.4, 34.1, -3.3] }).phase).toEqual([0, 0]);
  });

  it('puts the equator in the northern zones, and takes the centre of the bbox in both axes', () => {
    expect(utmZoneOf([33, 0, 34, 0])).toBe('EPSG:32636');
    expect(utmZoneOf([33, -1, 34, 0.5])).toBe('EPSG:32736'); // centre -0.25
    expect(utmZoneOf([30, 10, 42, 12])).toBe('EPSG:32637'); // centre lon 36 opens zone 37
    expect(utmZoneOf([-180, 0, -174.1, 1])).toBe('EPSG:32601');
  });

  it('snaps a bbox outward to whole lattice pixels, a micrometre counting as on the edge, and widens by the margin', () => {
    const lattice = { crs: 'EPSG:32736', resolution: 10, phase: [2, 3] as [number, number] };
    // x from 2 + 10*5 + 1 = 53 to 2 + 10*8 - 1 = 81: columns 5..8 (col1 exclusive 8); y from 3 + 10*2 to 3 + 10*4.
    expect(latticeWindow(lattice, [53, 23, 81, 43])).toEqual({ col0: 5, row0: 2, col1: 8, row1: 4 });
    expect(latticeWindow(lattice, [53, 23, 81, 43], 2)).toEqual({ col0: 3, row0: 0, col1: 10, row1: 6 });
    // On the edges, give or take a nanometre.
    expect(latticeWindow(lattice, [52.0000000001, 22.9999999999, 82.0000000001, 42.9999999999])).toEqual({ col0: 5, row0: 2, col1: 8, row1: 4 });
    expect(chipsCovering({ col0: 5, row0: 4, col1: 5, row1: 9 })).toEqual([]);
    expect(chipsCovering({ col0: 5, row0: 4, col1: 9, row1: 4 })).toEqual([]);
  });

  it('recognises a grid made of whole lattice pixels, and nothing else', () => {
    const lattice = { crs: 'EPSG:32736', resolution: 10, phase: [2, 3] as [number, number] };
    const grid = (transform: number[], crs = 'EPSG:32736') => ({ crs, width: 4, height: 3, transform: transform as [number, number, number, number, number, number] });
    expect(alignedWindow(lattice, grid([10, 0, 52, 0, -10, 83]))).toEqual({ col0: 5, row0: 5, col1: 9, row1: 8 });
    expect(alignedWindow(lattice, grid([10, 0, 52.0000001, 0, -10, 82.9999999]))).toEqual({ col0: 5, row0: 5, col1: 9, row1: 8 });
    for (const [name, g] of [
      ['other CRS', grid([10, 0, 52, 0, -10, 83], 'EPSG:32737')],
      ['20 m', grid([20, 0, 52, 0, -20, 83])],
      ['10.00001 m wide', grid([10.00001, 0, 52, 0, -10, 83])],
      ['10.00001 m high', grid([10, 0, 52, 0, -10.00001, 83])],
      ['rotated', grid([10, 0.5, 52, 0, -10, 83])],
      ['sheared', grid([10, 0, 52, 0.5, -10, 83])],
      ['south-up', grid([10, 0, 52, 0, 10, 83])],
      ['half a pixel east', grid([10, 0, 57, 0, -10, 83])],
      ['half a pixel north', grid([10, 0, 52, 0, -10, 88])],
    ] as const) {
      expect(alignedWindow(lattice, g), name).toBeUndefined();
    }
  });

  it('a target off the lattice needs its projected footprint plus two pixels', () => {
    const lattice = { crs: 'EPSG:32736', resolution: 10, phase: [0, 0] as [number, number] };
    // 5 m pixels over x 1000..1040, y 2000..2030 in the lattice CRS: columns 100..104, rows 200..203, plus 2.
    expect(windowForTarget(lattice, { crs: 'EPSG:32736', width: 8, height: 6, transform: [5, 0, 1000, 0, -5, 2030] })).toEqual({ col0: 98, row0: 198, col1: 106, row1: 205 });
    // A rotated target: its four corners count, not only the first and last.
    const rotated = windowForTarget(lattice, { crs: 'EPSG:32736', width: 10, height: 10, transform: [3, 1, 1000, 1, -3, 2030] })!;
    // Corners: (1000, 2030), (1030, 2040), (1010, 2000), (1040, 2010) -> x 1000..1040, y 2000..2040.
    expect(rotated).toEqual({ col0: 98, row0: 198, col1: 106, row1: 206 });
    // An aligned target is its own window (no margin).
    expect(windowForTarget(lattice, { crs: 'EPSG:32736', width: 4, height: 3, transform: [10, 0, 1000, 0, -10, 2030] })).toEqual({ col0: 100, row0: 200, col1: 104, row1: 203 });
  });

  it('counts chips per axis for any placement, and no finite count for spans past a million pixels', () => {
    expect(chipsPerAxis(32)).toBe(2); // a run of 32 inside an overlap touches both chips
    expect(chipsPerAxis(193)).toBe(3);
    expect(chipsPerAxis(1e6)).toBe(Math.ceil(1e6 / 192) + 1);
    expect(chipsPerAxis(1e6 + 1)).toBe(Infinity);
  });
});

describe('chip codec', () => {
  it('keeps each band with its own range, in order, and a constant band exactly; masked pixels decode as 0', () => {
    const size = 224 * 224;
    const bands = [
      Float32Array.from({ length: size }, (_, p) => (p % 1000) * 0.5), // 0..499.5
      Float32Array.from({ length: size }, (_, p) => -3000 + (p % 7)), // -3000..-2994
      new Float32Array(size).fill(42.25), // constant
      Float32Array.from({ length: size }, (_, p) => (p % 2 ? 1e-3 : -1e-3)), // tiny range
    ];
    const mask = new Uint8Array(size).fill(255);
    mask[10] = 0;
    const decoded = decodeChip(encodeChip({ width: 224, height: 224, bands, mask }));
    expect([decoded.width, decoded.height, decoded.bands.length]).toEqual([224, 224, 4]);
    const ranges = [499.5, 6, 0, 2e-3];
    decoded.bands.forEach((band, k) => {
      for (let p = 0; p < size; p += 1) {
        // Half a quantisation step of this band's own range, plus the float32 rounding of the decoded value.
        const bound = ranges[k]! / 65534 / 2 + Math.abs(bands[k]![p]!) * 1.2e-7;
        if (p === 10) expect(band[p], `band ${k} masked`).toBe(0);
        else if (Math.abs(band[p]! - bands[k]![p]!) > bound) throw new Error(`band ${k} pixel ${p}: ${band[p]} vs ${bands[k]![p]}`);
      }
    });
    expect(decoded.bands[2]![11]).toBe(42.25);
    // A band whose every pixel is masked has no range at all.
    const allMasked = decodeChip(encodeChip({ width: 2, height: 1, bands: [Float32Array.of(5, 6)], mask: Uint8Array.of(0, 0) }));
    expect([...allMasked.bands[0]!]).toEqual([0, 0]);
    expect([...allMasked.mask]).toEqual([0, 0]);
    // A masked extreme does not widen the range: the one valid value comes back exactly.
    const one = decodeChip(encodeChip({ width: 2, height: 1, bands: [Float32Array.of(-1e9, 7.5)], mask: Uint8Array.of(0, 255) }));
    expect([...one.bands[0]!]).toEqual([0, 7.5]);
  });

  it('refuses bytes that are not an encoded chip, another version, or a payload of the wrong size', () => {
    const good = Buffer.from(encodeChip({ width: 2, height: 2, bands: [Float32Array.of(1, 2, 3, 4)], mask: new Uint8Array(4).fill(255) }));
    expect(() => decodeChip(good.subarray(0, 11))).toThrow('not an encoded chip (bad magic)');
    const magic = Buffer.from(good);
    magic[0] = 0;
    expect(() => decodeChip(magic)).toThrow('not an encoded chip (bad magic)');
    const version = Buffer.from(good);
    version[4] = 2;
    expect(() => decodeChip(version)).toThrow('encoded chip version 2 is not 1');
    const wider = Buffer.from(good);
    wider.writeUInt16LE(3, 6);
    expect(() => decodeChip(wider)).toThrow('encoded chip payload has the wrong size');
    expect(decodeChip(good).bands[0]![3]).toBeCloseTo(4, 3);
  });


  it('round-trips values within (max - min) / 65534 / 2 and keeps the mask', () => {
    const values = new Float32Array(224 * 224).map((_, p) => -280.6 + ((p * 7919) % 1902) + 0.123);
    const mask = new Uint8Array(224 * 224).fill(255);
    mask[5] = 0;
    values[5] = 1e9; // a masked value must not stretch the quantisation range
    const encoded = encodeChip({ width: 224, height: 224, bands: [values], mask });
    const decoded = decodeChip(encoded);
    expect(decoded.mask[5]).toBe(0);
    expect(decoded.bands[0]![5]).toBe(0);
    let min = Infinity;
    let max = -Infinity;
    values.forEach((v, p) => {
      if (p === 5) return;
      min = Math.min(min, v);
      max = Math.max(max, v);
    });
    const bound = (max - min) / 65534 / 2 + 1e-4;
    let worst = 0;
    for (let p = 0; p < values.length; p += 1) if (p !== 5) worst = Math.max(worst, Math.abs(decoded.bands[0]![p]! - values[p]!));
    expect(worst).toBeLessThanOrEqual(bound);
    expect(worst).toBeGreaterThan(0); // it is lossy: 16 bits over the range
    // Decoding the decoded chip's encoding changes nothing: what is blended is stable.
    const again = decodeChip(encodeChip(decoded));
    expect(Buffer.from(again.bands[0]!.buffer).equals(Buffer.from(decoded.bands[0]!.buffer))).toBe(true);
  });

  it('keeps a constant band exactly and refuses bytes that are not a chip', () => {
    const chip = { width: 2, height: 1, bands: [new Float32Array([3.5, 3.5])], mask: new Uint8Array([255, 255]) };
    expect([...decodeChip(encodeChip(chip)).bands[0]!]).toEqual([3.5, 3.5]);
    expect(() => decodeChip(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]))).toThrow(/not an encoded chip/);
  });
});

describe('generation queue', () => {
  it('runs at most `concurrency` at once and answers 503 with Retry-After past maxQueued', async () => {
    const queue = new WorkQueue({ concurrency: 1, maxQueued: 1 });
    let release!: () => void;
    const first = queue.submit(() => new Promise<string>((resolve) => (release = () => resolve('a'))));
    const second = queue.submit(async () => 'b');
    expect([queue.running, queue.queued]).toEqual([1, 1]);
    const error = await queue.submit(async () => 'c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OgcError);
    expect((error as OgcError).status).toBe(503);
    expect((error as OgcError).detail).toMatch(/GENERATION_QUEUE_MAX=1/);
    expect(Number((error as OgcError).headers['retry-after'])).toBeGreaterThanOrEqual(1);
    release();
    expect(await first).toBe('a');
    expect(await second).toBe('b');
  });

  it('estimates Retry-After from a moving average of run times: 0.8 old + 0.2 new, starting at 1 s', async () => {
    let clock = 0;
    const queue = new WorkQueue({ concurrency: 2, maxQueued: 3, now: () => clock });
    const retryAfter = async () => {
      const error = (await queue.submit(async () => undefined).catch((e: unknown) => e)) as OgcError;
      return Number(error.headers['retry-after']);
    };
    // Two runs of 6 s each, one after the other: average 0.8 * 1000 + 0.2 * 6000 = 2000, then 0.8 * 2000 + 1200 = 2800.
    for (let k = 0; k < 2; k += 1) {
      let release!: () => void;
      const run = queue.submit(() => new Promise<void>((resolve) => (release = resolve)));
      clock += 6000;
      release();
      await run;
      await new Promise((resolve) => setTimeout(resolve, 0)); // its lane frees after the caller resumes
    }
    // Fill the queue: 2 running, 3 waiting; 3 waiting over 2 lanes at 2.8 s each = 4.2 s -> 5.
    const releases: (() => void)[] = [];
    const held = Array.from({ length: 5 }, () => queue.submit(() => new Promise<void>((resolve) => releases.push(resolve))));
    expect([queue.running, queue.queued]).toEqual([2, 3]);
    expect(await retryAfter()).toBe(5);
    while (releases.length > 0 || queue.running > 0) {
      releases.splice(0).forEach((release) => release());
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(held);
  });

  it('drops a waiting item whose signal aborts, with the signal\'s reason, and never starts it', async () => {
    const queue = new WorkQueue({ concurrency: 1, maxQueued: 5 });
    let release!: () => void;
    const first = queue.submit(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    let started = false;
    const waiting = queue.submit(async () => void (started = true), controller.signal);
    controller.abort(new Error('client gone'));
    await expect(waiting).rejects.toThrow('client gone');
    expect(queue.queued).toBe(0);
    release();
    await first;
    expect(started).toBe(false);
    // Aborting after an item started changes nothing for it.
    const late = new AbortController();
    const running = queue.submit(async () => 'done', late.signal);
    const result = await running;
    late.abort();
    expect(result).toBe('done');
  });

  it('starts waiting interactive work (tiles) before waiting batch work (jobs)', async () => {
    const queue = new WorkQueue({ concurrency: 1, maxQueued: 10 });
    const order: string[] = [];
    let release!: () => void;
    const first = queue.submit(() => new Promise<void>((resolve) => (release = resolve)));
    const job = ['j1', 'j2'].map((name) => queue.submit(async () => void order.push(name), undefined, 'batch'));
    const tile = queue.submit(async () => void order.push('t1'));
    release();
    await Promise.all([first, ...job, tile]);
    expect(order).toEqual(['t1', 'j1', 'j2']);
  });

  it('drops a queued item whose signal aborts, so it never starts', async () => {
    const queue = new WorkQueue({ concurrency: 1, maxQueued: 5 });
    let release!: () => void;
    const first = queue.submit(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    let started = false;
    const second = queue.submit(async () => {
      started = true;
    }, controller.signal);
    controller.abort(new Error('client went away'));
    await expect(second).rejects.toThrow('client went away');
    expect(queue.queued).toBe(0);
    release();
    await first;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(started).toBe(false);
  });
});

describe('single-flight with waiters', () => {
  it('shares one run, lets one waiter leave, and aborts the work only when the last one leaves', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    let workSignal!: AbortSignal;
    let finish!: (v: number) => void;
    const work = (signal: AbortSignal) => {
      runs += 1;
      workSignal = signal;
      return new Promise<number>((resolve) => (finish = resolve));
    };
    const a = new AbortController();
    const b = new AbortController();
    const pa = flight.run('k', work, a.signal);
    const pb = flight.run('k', work, b.signal);
    await Promise.resolve();
    expect(runs).toBe(1);
    a.abort(new Error('a left'));
    await expect(pa).rejects.toThrow('a left');
    expect(workSignal.aborted).toBe(false);
    b.abort(new Error('b left'));
    await expect(pb).rejects.toThrow('b left');
    expect(workSignal.aborted).toBe(true);
    // The key is free again: a new caller starts a new run.
    const pc = flight.run('k', work);
    await Promise.resolve();
    expect(runs).toBe(2);
    finish(7);
    expect(await pc).toBe(7);
    expect(flight.size).toBe(0);
  });
});
