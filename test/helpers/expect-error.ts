import { expect } from 'vitest';
import { OgcError } from '../../src/errors.js';

/** Runs fn, asserts it throws an OgcError with a 400 status, and returns it for message checks. */
export function badRequestOf(fn: () => unknown): OgcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OgcError);
    expect((error as OgcError).status).toBe(400);
    return error as OgcError;
  }
  throw new Error('expected a 400');
}
