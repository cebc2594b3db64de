/**
 * Setup for test/mutation.vitest.config.ts only. Stryker's vitest runner runs tests in worker threads, where the
 * `web-worker` package that geotiff imports takes the thread for one of its own workers and throws at import
 * time ("Cannot destructure property 'mod' of 'threads.workerData'"), so every test file that reads a GeoTIFF
 * would fail to load and be silently skipped. `web-worker` uses a global Worker when there is one: this gives it
 * one that refuses to start (nothing in src uses geotiff's worker Pool).
 */
if (typeof (globalThis as { Worker?: unknown }).Worker !== 'function') {
  (globalThis as { Worker?: unknown }).Worker = class Worker {
    constructor() {
      throw new Error('Web workers are not available under mutation testing (test/helpers/mutation-setup.ts)');
    }
  };
}
