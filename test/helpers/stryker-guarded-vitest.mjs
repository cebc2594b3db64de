// @ts-check
/**
 * A Stryker test runner, `vitest-guarded`: Stryker's own vitest runner, except that a mutant run which executed no
 * test is never scored "survived". Loaded by stryker.config.mjs (`appendPlugins`).
 *
 * Why: Stryker 9's vitest runner scores a mutant run from the tests that have a result. Two kinds of run have none,
 * and both came out as survived mutants that the tests kill when the change is put in by hand:
 *  - a lost run: vitest (4.1) does not start the files at all, and they stay queued without results. Seen after a
 *    run that bailed on its first failure, whose cancellation was still in progress when the next run began
 *    (vitest-dev/vitest#8852, stryker-mutator/stryker-js#6073). stryker.config.mjs turns bail off, which removes
 *    that trigger; this guard catches whatever else loses a run.
 *  - a test file that fails to load (a mutant in module-level code that throws at import): vitest records the error
 *    on the file and collects no tests (stryker-mutator/stryker-js#6150).
 *
 * Here a run with zero executed tests is run once more; if it still executes none, a file that failed to load makes
 * the mutant killed (the suite fails under `vitest run` too), and anything else is reported as a runtime error,
 * which Stryker leaves out of the score instead of counting a measurement that never happened.
 */
import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { MutantRunStatus } from '@stryker-mutator/api/test-runner';
import { strykerPlugins as vitestPlugins } from '@stryker-mutator/vitest-runner';

const vitestPlugin = vitestPlugins.find((plugin) => plugin.name === 'vitest');
if (vitestPlugin === undefined || !('factory' in vitestPlugin)) {
  throw new Error('stryker-guarded-vitest: @stryker-mutator/vitest-runner no longer exports its "vitest" factory plugin');
}
const createVitestRunner = vitestPlugin.factory;

/** @typedef {import('@stryker-mutator/api/test-runner').TestRunner} TestRunner */
/** @typedef {import('@stryker-mutator/api/test-runner').MutantRunOptions} MutantRunOptions */
/** @typedef {import('@stryker-mutator/api/test-runner').MutantRunResult} MutantRunResult */
/** @typedef {{ ctx?: { state: { getFiles(): Array<{ filepath?: string, name: string, result?: { state?: string, errors?: Array<{ message?: string }> } }> } } }} VitestInternals */

/** @implements {TestRunner} */
class GuardedVitestRunner {
  /**
   * @param {TestRunner & VitestInternals} inner
   * @param {import('@stryker-mutator/api/logging').Logger} log
   */
  constructor(inner, log) {
    this.inner = inner;
    this.log = log;
  }

  capabilities() {
    return this.inner.capabilities();
  }

  async init() {
    await this.inner.init?.();
  }

  /** @param {import('@stryker-mutator/api/test-runner').DryRunOptions} options */
  dryRun(options) {
    return this.inner.dryRun(options);
  }

  /** @param {MutantRunOptions} options @returns {Promise<MutantRunResult>} */
  async mutantRun(options) {
    const first = await this.inner.mutantRun(options);
    if (!ranNoTest(first)) return first;
    this.log.warn(`Mutant ${options.activeMutant.id} (${mutantLabel(options)}): the run executed no test; running it once more.`);
    const second = await this.inner.mutantRun(options);
    if (!ranNoTest(second)) return second;
    const loadFailure = this.fileLoadFailure();
    if (loadFailure !== undefined) {
      return { status: MutantRunStatus.Killed, killedBy: [], nrOfTests: 0, failureMessage: `A test file failed to load: ${loadFailure}` };
    }
    return { status: MutantRunStatus.Error, errorMessage: 'The mutant run executed no test, twice (not a measurement; see test/helpers/stryker-guarded-vitest.mjs)' };
  }

  async dispose() {
    await this.inner.dispose?.();
  }

  /** The first error vitest recorded on a test file of the last run, if any. */
  fileLoadFailure() {
    for (const file of this.inner.ctx?.state.getFiles() ?? []) {
      if (file.result?.state === 'fail') {
        return `${file.name}: ${file.result.errors?.[0]?.message ?? 'failed without a message'}`;
      }
    }
    return undefined;
  }
}

/** @param {MutantRunResult} result */
function ranNoTest(result) {
  return result.status === MutantRunStatus.Survived && result.nrOfTests === 0;
}

/** @param {MutantRunOptions} options */
function mutantLabel({ activeMutant }) {
  const { fileName, location, mutatorName } = activeMutant;
  return `${mutatorName} at ${fileName}:${location.start.line + 1}`;
}

/** @param {import('@stryker-mutator/api/plugin').Injector<import('@stryker-mutator/api/plugin').PluginContext>} injector */
function createGuardedVitestRunner(injector) {
  return new GuardedVitestRunner(
    /** @type {TestRunner & VitestInternals} */ (injector.injectFunction(createVitestRunner)),
    injector.resolve(commonTokens.getLogger)('GuardedVitestRunner'),
  );
}
createGuardedVitestRunner.inject = tokens(commonTokens.injector);

export const strykerPlugins = [declareFactoryPlugin(PluginKind.TestRunner, 'vitest-guarded', createGuardedVitestRunner)];
