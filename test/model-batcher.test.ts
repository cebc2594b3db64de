import { describe, expect, it } from 'vitest';
import { createBatcher, type Feeds } from '../src/model/batcher.js';

/** A real (if tiny) computation on the batch axis: each output row is its input row doubled, plus a per-row sum. */
async function double(_part: string, feeds: Feeds): Promise<Feeds> {
  const x = feeds.x!;
  if ((x.data as Float32Array).some((v) => Number.isNaN(v))) throw new Error('NaN in x');
  const rows = x.dims[0]!;
  const per = x.data.length / rows;
  const sums = new Float32Array(rows);
  const doubled = (x.data as Float32Array).map((v, i) => {
    sums[Math.floor(i / per)]! += v;
    return v * 2;
  });
  return { y: { type: 'float32', data: doubled, dims: x.dims }, sum: { type: 'float32', data: sums, dims: [rows] } };
}

const chip = (value: number, rows = 1): Feeds => ({
  x: { type: 'float32', data: new Float32Array(rows * 6).fill(value), dims: [rows, 2, 3] },
});

describe('batcher', () => {
  it('runs concurrent callers once and splits the results back', async () => {
    const runs: number[] = [];
    const batcher = createBatcher({ maxSize: 8, maxWaitMs: 20, run: double, onRun: (_p, rows) => runs.push(rows) });
    const results = await Promise.all([1, 2, 3].map((v) => batcher.run('part', chip(v))));
    expect(runs).toEqual([3]);
    results.forEach((out, i) => {
      expect(out.y!.dims).toEqual([1, 2, 3]);
      expect([...out.y!.data]).toEqual(new Array(6).fill((i + 1) * 2));
      expect([...out.sum!.data]).toEqual([(i + 1) * 6]);
    });
    // identical to unbatched runs
    const alone = await double('part', chip(2));
    expect([...results[1]!.y!.data]).toEqual([...alone.y!.data]);
  });

  it('flushes at maxSize rows and keeps multi-row callers together', async () => {
    const runs: number[] = [];
    const batcher = createBatcher({ maxSize: 4, maxWaitMs: 300, run: double, onRun: (_p, rows) => runs.push(rows) });
    const start = Date.now();
    const out = await Promise.all([batcher.run('p', chip(1, 3)), batcher.run('p', chip(5)), batcher.run('p', chip(7, 2))]);
    // 3 + 1 fill a batch at once; the last 2 rows wait for the timer or a flush
    expect(runs[0]).toBe(4);
    expect(out[0]!.y!.dims[0]).toBe(3);
    expect([...out[2]!.sum!.data]).toEqual([42, 42]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(250);
  });

  it('never mixes parts or shapes', async () => {
    const seen: string[] = [];
    const batcher = createBatcher({ maxSize: 8, maxWaitMs: 10, run: double, onRun: (p, rows) => seen.push(`${p}:${rows}`) });
    const other: Feeds = { x: { type: 'float32', data: new Float32Array(4), dims: [1, 4] } };
    await Promise.all([batcher.run('a', chip(1)), batcher.run('b', chip(1)), batcher.run('a', other), batcher.run('a', chip(2))]);
    expect(seen.sort()).toEqual(['a:1', 'a:2', 'b:1']);
  });

  it('gives an error only to the caller that caused it', async () => {
    const batcher = createBatcher({ maxSize: 8, maxWaitMs: 10, run: double });
    const results = await Promise.allSettled([batcher.run('p', chip(1)), batcher.run('p', chip(Number.NaN)), batcher.run('p', chip(3))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/NaN/);
    expect([...(results[2] as PromiseFulfilledResult<Feeds>).value.y!.data]).toEqual(new Array(6).fill(6));
  });

  it('runs at once when maxWaitMs is 0', async () => {
    const runs: number[] = [];
    const batcher = createBatcher({ maxSize: 8, maxWaitMs: 0, run: double, onRun: (_p, rows) => runs.push(rows) });
    await Promise.all([batcher.run('p', chip(1)), batcher.run('p', chip(2))]);
    expect(runs).toEqual([1, 1]);
  });

  it('without waiting (shouldWait false) still stacks the callers of one turn, and tells the runner which feeds are its own', async () => {
    const runs: { rows: number; stacked: boolean }[] = [];
    const batcher = createBatcher({
      maxSize: 8,
      maxWaitMs: 60_000,
      shouldWait: () => false,
      run: (part, feeds, stacked) => {
        runs.push({ rows: feeds.x!.dims[0]!, stacked });
        return double(part, feeds);
      },
    });
    const start = Date.now();
    const mine = chip(4);
    const out = await Promise.all([batcher.run('p', chip(1)), batcher.run('p', mine)]);
    expect([...out[1]!.sum!.data]).toEqual([24]);
    await batcher.run('p', mine);
    expect(runs).toEqual([
      { rows: 2, stacked: true },
      { rows: 1, stacked: false },
    ]);
    expect(Date.now() - start).toBeLessThan(30_000); // never waited for the 60 s timer
  });
});
