import { describe, expect, it } from 'vitest';
import { GAP_BUDGET_FRACTION, MAX_GAP_BYTES, MAX_RUN_BYTES, mergeRanges } from '../src/raster/range-merge.js';

/** Which byte ranges of a file share one request (src/raster/range-merge.ts); expected runs worked out by hand. */
describe('mergeRanges', () => {
  it('joins touching and overlapping ranges at no cost', () => {
    expect(mergeRanges([{ offset: 100, length: 100 }, { offset: 0, length: 100 }, { offset: 150, length: 100 }])).toEqual([{ start: 0, end: 250 }]);
  });

  it('bridges a gap of exactly a quarter of the wanted bytes, not one byte more', () => {
    expect(GAP_BUDGET_FRACTION).toBe(0.25);
    // wanted 2000 bytes: a 500-byte gap is the whole budget, a 501-byte gap is over it.
    expect(mergeRanges([{ offset: 0, length: 1000 }, { offset: 1500, length: 1000 }])).toEqual([{ start: 0, end: 2500 }]);
    expect(mergeRanges([{ offset: 0, length: 1000 }, { offset: 1501, length: 1000 }])).toEqual([
      { start: 0, end: 1000 },
      { start: 1501, end: 2501 },
    ]);
  });

  it('bridges gaps up to 16 KiB while they stay within a quarter of the wanted bytes, smallest first', () => {
    // wanted 3 x 10000 = 30000, budget 7500: the 3000 gap fits (spent 3000), the 5000 one would make 8000.
    const runs = mergeRanges([
      { offset: 0, length: 10_000 },
      { offset: 15_000, length: 10_000 }, // gap 5000 before it
      { offset: 28_000, length: 10_000 }, // gap 3000 before it
    ]);
    expect(runs).toEqual([
      { start: 0, end: 10_000 },
      { start: 15_000, end: 38_000 },
    ]);
  });

  it('never bridges a gap over 16 KiB, however large the batch', () => {
    expect(MAX_GAP_BYTES).toBe(16_384);
    const runs = mergeRanges([{ offset: 0, length: 1_000_000 }, { offset: 1_016_385, length: 1_000_000 }]);
    expect(runs).toEqual([
      { start: 0, end: 1_000_000 },
      { start: 1_016_385, end: 2_016_385 },
    ]);
    expect(mergeRanges([{ offset: 0, length: 1_000_000 }, { offset: 1_016_384, length: 1_000_000 }])).toEqual([{ start: 0, end: 2_016_384 }]);
  });

  it('splits runs at 16 MiB and drops empty ranges', () => {
    expect(MAX_RUN_BYTES).toBe(16 * 1024 * 1024);
    const tenMiB = 10 * 1024 * 1024;
    expect(mergeRanges([{ offset: 0, length: tenMiB }, { offset: tenMiB, length: tenMiB }, { offset: 5, length: 0 }])).toEqual([
      { start: 0, end: tenMiB },
      { start: tenMiB, end: 2 * tenMiB },
    ]);
  });
});
