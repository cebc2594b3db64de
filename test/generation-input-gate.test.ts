import { describe, expect, it } from 'vitest';
import { InputGate } from '../src/generation/input-gate.js';

/**
 * The input gate (src/generation/input-gate.ts): chips whose inputs are read wait for the chips still reading, so
 * their model calls start in the same turn and the batcher stacks them; the wait is bounded.
 */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('input gate', () => {
  it('lets a chip through at once when no other chip is reading', async () => {
    const gate = new InputGate(60_000);
    expect(await gate.read(async () => 7)).toBe(7);
    const started = performance.now();
    await gate.ready();
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('holds ready chips until the last read settles, then releases them together, also when that read fails', async () => {
    const gate = new InputGate(60_000);
    const slow = deferred<number>();
    const failing = deferred<number>();
    const reads = [gate.read(() => slow.promise), gate.read(() => failing.promise)];
    reads[1]!.catch(() => undefined);
    const released: string[] = [];
    const first = gate.ready().then(() => released.push('first'));
    const second = gate.ready().then(() => released.push('second'));
    slow.resolve(1);
    await reads[0];
    await new Promise((resolve) => setTimeout(resolve, 20));
    // One read is still in flight: nobody goes yet.
    expect(released).toEqual([]);
    failing.reject(new Error('upstream failed'));
    await expect(reads[1]).rejects.toThrow('upstream failed');
    await Promise.all([first, second]);
    expect(released).toEqual(['first', 'second']);
    // Nothing is reading any more: a later chip is not held.
    let late = false;
    await gate.ready().then(() => (late = true));
    expect(late).toBe(true);
  });

  it('waits at most maxWaitMs for a read that does not finish', async () => {
    const gate = new InputGate(50);
    const stuck = deferred<number>();
    void gate.read(() => stuck.promise);
    const started = performance.now();
    await gate.ready();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(45);
    expect(waited).toBeLessThan(5_000);
    stuck.resolve(0);
  });
});
