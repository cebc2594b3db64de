/** The model runtime's public surface for the HTTP layer, the processes/tiles engines and the CLI. */
export {
  createModelRuntime,
  validateRequest,
  type ChipInput,
  type GenerateRequest,
  type GenerateResult,
  type GeneratedOutput,
  type ModelRuntime,
  type RuntimeOptions,
} from './runtime.js';
export { generateTiled, chipOffsets, rampWeights, CROP, STRIDE, type TiledRequest } from './tiled.js';
export { loadPackage, parseManifest, ModelPackageError, type Manifest, type ModelPackage } from './manifest.js';
export type { ExecutionProvider } from './sessions.js';
