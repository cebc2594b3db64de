// @ts-check
/**
 * Mutation testing (Stryker) of the rooms where a silent bug corrupts output: pixels, cache keys, address
 * policy. Not part of `npm test` or CI (it runs the related tests once per mutant: tens of minutes per room).
 *
 *   npm run test:mutation                                  every room below, one after another in one run
 *   MUTATION_ROOMS=grid,keys npm run test:mutation         some rooms
 *   npm run test:mutation -- --concurrency 2               more test processes (default 1)
 *
 * Reports: reports/mutation/<rooms>.html (open in a browser) and .json; a per-room incremental file lets a
 * rerun after new tests re-test only the mutants those tests or code changes touch. test/README.md says how
 * to read a surviving mutant.
 */

/**
 * Room -> the files to mutate and the test files that can see them (globs). Each mutant runs only the tests among
 * these that execute its code (perTest coverage). A new room is one line.
 *
 * generation: the parts of the chip engine where a silent bug changes pixels (lattice, blend, codec) or breaks
 * coordination (queue, input gate, leases), each with fast tests of its own; the chip key and package digest
 * are in `keys`, the parameters in `params`.
 * engine: the orchestration (plans, reads, chip cache, chip generator) with its own tests on the real runtime over
 * one-step chips, about 15 s a run; not the end-to-end tests through HTTP (test/generation-chips.test.ts, minutes
 * of model time per run).
 */
export const ROOMS = {
  grid: { mutate: ['src/grid/**/*.ts'], tests: ['test/tiles-grid.test.ts', 'test/ogc-errors.test.ts', 'test/tiles-service.test.ts'] },
  stac: { mutate: ['src/stac/**/*.ts'], tests: ['test/stac-*.test.ts', 'test/sources-open.test.ts'] },
  // The reader's own tests: exact pixels through scale/offset, refusals, reader cache (the tile tests add minutes).
  sources: { mutate: ['src/sources/**/*.ts'], tests: ['test/sources-open.test.ts'] },
  // The hand-computed warp tests only: every tile read runs warp.ts, so with the reader and tile tests each mutant
  // ran dozens of HTTP tests (a room of hours).
  warp: { mutate: ['src/raster/warp.ts'], tests: ['test/raster-warp.test.ts'] },
  // The model's tests computed by hand from the reference formulas: schedule, DDIM update, sampling and FSQ in
  // `model`; the blend weights and the chip blend in `tiled`. Not generate()'s end-to-end tests or the equivalence
  // test (a comparison with our own PyTorch modules, a second implementation rather than the formula): with them
  // every sampling mutant ran model sessions, a room of over an hour and a half.
  model: {
    mutate: ['src/model/schedule.ts', 'src/model/sampling.ts', 'src/model/fsq.ts'],
    tests: ['test/model-units.test.ts', 'test/model-ddim.test.ts'],
  },
  tiled: { mutate: ['src/model/tiled.ts'], tests: ['test/model-tiled.test.ts'] },
  // Cache keys: the key function, the generated chip's key and the package digest in it (what goes into a chip key
  // decides which chip is served).
  keys: {
    mutate: ['src/cache/keys.ts', 'src/generation/chip-keys.ts', 'src/generation/package-digest.ts'],
    tests: ['test/cache-*.test.ts', 'test/tiles-service.test.ts', 'test/generation-chip-keys.test.ts', 'test/generation-package-digest.test.ts'],
  },
  // Generation parameters and sources from every form: defaults, refusals, and the canonical spec that names
  // virtual collections and plans.
  params: { mutate: ['src/generation/params.ts'], tests: ['test/generation-params.test.ts'] },
  'address-policy': { mutate: ['src/net/address-policy.ts'], tests: ['test/net-*.test.ts'] },
  engine: {
    mutate: ['engine', 'chip-cache', 'chip-generator'].map((name) => `src/generation/${name}.ts`),
    tests: ['test/generation-engine.test.ts', 'test/generation-chip-cache.test.ts', 'test/generation-chip-generator.test.ts'],
  },
  generation: {
    mutate: ['lattice', 'blend', 'chip-codec', 'work-queue', 'input-gate', 'leases'].map((name) => `src/generation/${name}.ts`),
    tests: ['test/generation-units.test.ts', 'test/generation-codec-layout.test.ts', 'test/generation-input-gate.test.ts', 'test/cache-conditional.test.ts', 'test/model-tiled.test.ts'],
  },
};

const selected = (process.env.MUTATION_ROOMS ?? '')
  .split(',')
  .map((room) => room.trim())
  .filter(Boolean);
for (const room of selected) {
  if (!(room in ROOMS)) throw new Error(`MUTATION_ROOMS: unknown room "${room}" (rooms: ${Object.keys(ROOMS).join(', ')})`);
}
const rooms = selected.length > 0 ? selected : Object.keys(ROOMS);
const name = selected.length > 0 ? rooms.join('+') : 'all';
process.env.MUTATION_TESTS = [...new Set(rooms.flatMap((room) => ROOMS[/** @type {keyof typeof ROOMS} */ (room)].tests))].join(',');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  // Stryker's vitest runner behind a guard: a mutant run that executed no test is run again, and never scored as a
  // survivor (test/helpers/stryker-guarded-vitest.mjs says why).
  testRunner: 'vitest-guarded',
  appendPlugins: ['./test/helpers/stryker-guarded-vitest.mjs'],
  // Bail (stop a mutant's run at its first failing test) is off: with it on, vitest 4.1 could still be cancelling the
  // bailed run when the next mutant's run began, and lost that run (vitest-dev/vitest#8852). A killed mutant now runs
  // all its tests, which also lists every test that kills it.
  disableBail: true,
  // Each Stryker test process runs one vitest worker thread over the rooms' test files (MUTATION_TESTS, read by
  // test/mutation.vitest.config.ts; child processes inherit it); `related` keeps those importing the mutated code.
  vitest: { configFile: 'test/mutation.vitest.config.ts', related: true },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: rooms.flatMap((room) => ROOMS[/** @type {keyof typeof ROOMS} */ (room)].mutate),
  // Per test: each mutant runs only the tests that execute its code.
  coverageAnalysis: 'perTest',
  concurrency: 1,
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowEmojis: false, logTests: false, reportScoreTable: true, reportMutants: true },
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  // The sandbox needs the code, tests, fixtures and the model package; not docs or infrastructure.
  ignorePatterns: ['docs', 'infra', 'reports', 'bench-results', '.cache', 'coverage'],
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
