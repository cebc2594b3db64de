import { expect } from 'vitest';

type Values = ArrayLike<number>;

/**
 * Asserts two lists of pixel arrays are equal value for value (NaN equals NaN), naming the first difference.
 * `toEqual` on 50,000-pixel typed arrays is correct but its diff of a failure takes minutes, which also turns
 * every killed mutant into a timeout.
 */
export function expectSameValues(actual: readonly Values[], expected: readonly Values[], what = 'values'): void {
  expect(actual.map((a) => a.length), `${what}: array lengths`).toEqual(expected.map((e) => e.length));
  actual.forEach((a, k) => {
    const e = expected[k]!;
    for (let i = 0; i < a.length; i += 1) {
      if (!Object.is(a[i], e[i]) && !(a[i] === 0 && e[i] === 0)) {
        expect.fail(`${what}: array ${k} differs first at ${i}: ${a[i]} instead of ${e[i]}`);
      }
    }
  });
}
