import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../vitest.config.js';

/**
 * The vitest configuration Stryker runs (stryker.config.mjs): the project's, limited to the test files of the
 * rooms being mutated (MUTATION_TESTS, comma-separated, set by stryker.config.mjs), so a mutant in a room
 * never starts the servers and model sessions of test files that cannot see it.
 */
const files = (process.env.MUTATION_TESTS ?? '').split(',').filter(Boolean);

export default defineConfig({
  ...base,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    ...base.test,
    include: files.length > 0 ? files : base.test?.include,
    setupFiles: ['test/helpers/mutation-setup.ts'],
  },
});
