import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [
      '**/node_modules/**',
      // enabled when generated collections land (issue 7): real clients (viewer, QGIS, GDAL) on generated layers
      'test/client-generated.test.ts',
      'test/client-docs-generated.test.ts',
    ],
    // Two-core machines: real servers and ONNX sessions in parallel files compete for CPU.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
