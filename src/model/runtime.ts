import { randomInt } from 'node:crypto';
import type { Config } from '../config.js';
import { badRequest } from '../errors.js';
import type { Logger } from '../logger.js';
import { MODALITIES, parseModality, type Modality } from '../modalities.js';
import type { Grid, Raster } from '../raster/raster.js';
import { createBatcher, type Feeds } from './batcher.js';
import { checkClassIndices, classCount, isClassMap } from './class-input.js';
import {
  codesFor,
  decodeLogits,
  destandardize,
  diffusionDecode,
  encode,
  lulcDecode,
  PIXELS,
  standardize,
  tokenizeInput,
  TOKENS,
  type EncoderInput,
  type ModelContext,
} from './generate.js';
import { loadPackage, type Manifest, type ModelPackage } from './manifest.js';
import { deriveSeed, Rng } from './rng.js';
import { sampleTokens } from './sampling.js';
import { ModelSessions, type ExecutionProvider } from './sessions.js';

/**
 * One 224x224 chip of a modality: a Raster (its grid is copied to the outputs) or plain bands, one Float32Array of
 * 224*224 values per band in the package's band order (src/modalities.ts), in the modality's physical unit
 * (S2 DN, dB, metres, LULC class index, NDVI). LULC/NDVI inputs may instead be given as 196 token ids.
 */
export type ChipInput = Raster | { bands: ArrayLike<number>[] } | { tokens: ArrayLike<number> };

export interface GenerateRequest {
  /** Input chips by modality name (user spellings accepted: 's2l2a', 'RGB', 'S1'). */
  inputs: Record<string, ChipInput>;
  /** Modalities to generate, in order. */
  outputs: string[];
  /** Integer seed; omitted = a random one (returned in the result so the run can be repeated). */
  seed?: number;
  /** Identifies the chip within a request (e.g. "r3c7" or a tile id): each chip draws its own random stream. */
  chipId?: string;
  /** Diffusion steps (1..1000), temperature (>=0, 0 = greedy), nucleus mass (0..1], top-k (0 = off). */
  timesteps?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  /** Thinking-in-Modalities: generate these modalities' tokens first and add them as inputs (e.g. ['LULC']). */
  thinking?: string[];
  /** Added to a modality's mean for standardization and de-standardization (the reference's `offset`, e.g. S2L2A: 1000). */
  offsets?: Record<string, number>;
  /** Grid of the chip; defaults to the grid of the first Raster input. Outputs carry it as `raster`. */
  grid?: Grid;
  /** Progress callback: a stage finished. */
  onProgress?: (event: { modality: Modality; stage: 'tokens' | 'step' | 'decoded'; step?: number; of?: number }) => void;
  signal?: AbortSignal;
}

export interface GeneratedOutput {
  modality: Modality;
  bandNames: string[];
  /** One Float32Array of 224*224 per band, in physical units (LULC: class index 0..classes-1 as float). */
  bands: Float32Array[];
  /** The 196 sampled token ids (raster order). */
  tokens: Int32Array;
  /** LULC only: per-class logits, one 224*224 array per class (for blending overlapping chips). */
  classLogits?: Float32Array[];
  /** The chip on the request grid, when a grid is known (mask all valid). */
  raster?: Raster;
}

export interface GenerateResult {
  seed: number;
  outputs: Partial<Record<Modality, GeneratedOutput>>;
  /** Thinking modalities whose tokens were added as inputs. */
  thought: Modality[];
  timings: { totalMs: number; encodeMs: number; stages: Record<string, number> };
}

export interface ModelRuntime {
  manifest: Manifest;
  pkg: ModelPackage;
  /** Generates the requested outputs for one chip; concurrent calls share ONNX runs through the batcher. */
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Runs every part of the package once so that the first request is not slow. */
  warmUp(): Promise<void>;
  close(): Promise<void>;
  /** Provider used by the sessions (after they open), and counters for metrics/tests. */
  stats(): {
    provider?: ExecutionProvider;
    unavailableProviders: ExecutionProvider[];
    onnxRuns: number;
    batchedRuns: number;
    sessionCreateMs: Record<string, number>;
  };
}

export interface RuntimeOptions {
  /** Overrides config.MODEL_DIR. */
  modelDir?: string;
  /** Observes each ONNX run the batcher makes (part, rows, callers). */
  onRun?: (part: string, rows: number, callers: number) => void;
}

type RuntimeConfig = Pick<
  Config,
  'MODEL_DIR' | 'EXECUTION_PROVIDERS' | 'INTRA_OP_THREADS' | 'INTER_OP_THREADS' | 'BATCH_MAX_SIZE' | 'BATCH_MAX_WAIT_MS'
>;

export function createModelRuntime(config: RuntimeConfig, logger?: Logger, options: RuntimeOptions = {}): ModelRuntime {
  const pkg = loadPackage(options.modelDir ?? config.MODEL_DIR);
  const sessions = new ModelSessions(
    pkg,
    { executionProviders: config.EXECUTION_PROVIDERS, intraOpThreads: config.INTRA_OP_THREADS, interOpThreads: config.INTER_OP_THREADS },
    logger,
  );
  let batchedRuns = 0;
  let active = 0;
  const batcher = createBatcher({
    maxSize: config.BATCH_MAX_SIZE,
    maxWaitMs: config.BATCH_MAX_WAIT_MS,
    // A lone request has nobody to wait for: run it at once.
    shouldWait: () => active > 1,
    // Stacked feeds are the batcher's fresh copies: they move to the worker thread; a lone caller's are copied.
    run: (part, feeds, stacked) => sessions.run(part, feeds, { transferInputs: stacked }),
    onRun: (part, rows, callers) => {
      if (callers > 1) batchedRuns += 1;
      options.onRun?.(part, rows, callers);
    },
  });
  const ctx: ModelContext = { pkg, run: batcher.run, queryCache: new Map() };
  logger?.info({ model: pkg.manifest.name, version: pkg.manifest.version, inputs: pkg.inputs, outputs: pkg.outputs }, 'model package loaded');

  const generate = async (request: GenerateRequest) => {
    active += 1;
    try {
      return await runGeneration(ctx, request);
    } finally {
      active -= 1;
    }
  };

  return {
    manifest: pkg.manifest,
    pkg,
    generate,
    async warmUp() {
      const start = performance.now();
      await generate(warmUpRequest(pkg));
      logger?.info({ ms: Math.round(performance.now() - start), provider: sessions.provider }, 'model warm-up done');
    },
    close: () => sessions.close(),
    stats: () => ({
      provider: sessions.provider,
      unavailableProviders: [...sessions.unavailable],
      onnxRuns: sessions.runs,
      batchedRuns,
      sessionCreateMs: Object.fromEntries(sessions.createMs),
    }),
  };
}

/** A request that touches every part once: every input (token inputs as images), every output, one step. */
function warmUpRequest(pkg: ModelPackage): GenerateRequest {
  const inputs: Record<string, ChipInput> = {};
  for (const id of pkg.inputs) {
    const m = pkg.manifest.modalities[id]!;
    if (MODALITIES[id].encoding === 'token' && !m.input?.tokenizerEncoder) inputs[id] = { tokens: new Int32Array(TOKENS) };
    else inputs[id] = { bands: m.mean.map((mean) => new Float32Array(PIXELS).fill(mean)) };
  }
  return { inputs, outputs: [...pkg.outputs], seed: 0, timesteps: 1 };
}

interface ValidRequest {
  inputs: Partial<Record<Modality, EncoderInput>>;
  outputs: Modality[];
  thinking: Modality[];
  seed: number;
  chipId: string;
  timesteps: number;
  sampling: { temperature: number; topP: number; topK: number };
  offsets: Partial<Record<Modality, number>>;
  grid?: Grid;
}

/** A user's spelling of a modality -> its id, or OgcError('bad-request') listing the known ones. */
export function modalityName(name: string, what: string): Modality {
  const id = parseModality(name);
  if (!id) throw badRequest(`Unknown ${what} modality '${name}'. Known modalities: ${Object.keys(MODALITIES).join(', ')}.`);
  return id;
}

function hasBands(input: ChipInput): input is Raster | { bands: ArrayLike<number>[] } {
  return 'bands' in input;
}

function isRaster(input: ChipInput): input is Raster {
  return 'bands' in input && 'transform' in input && 'crs' in input;
}

/** Turns a request into standardized tensors, or throws OgcError('bad-request') saying what to fix. */
export function validateRequest(pkg: ModelPackage, request: GenerateRequest): ValidRequest {
  const manifest = pkg.manifest;
  if (!request || typeof request !== 'object') throw badRequest('A generation request must be an object with inputs and outputs.');
  const outputs = [...new Set((request.outputs ?? []).map((name) => modalityName(name, 'output')))];
  if (outputs.length === 0) throw badRequest(`Name at least one output modality. This model can generate: ${pkg.outputs.join(', ')}.`);
  for (const id of outputs) {
    if (!pkg.outputs.includes(id)) {
      throw badRequest(`This model (${manifest.name}) cannot generate ${id}. It can generate: ${pkg.outputs.join(', ')}.`);
    }
  }
  const offsets: Partial<Record<Modality, number>> = {};
  for (const [name, value] of Object.entries(request.offsets ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw badRequest(`offsets.${name} must be a finite number.`);
    const id = modalityName(name, 'offset');
    if (isClassMap(id) && value !== 0) throw badRequest(`offsets.${name} does not apply: ${id} values are class indices, which are not standardized.`);
    offsets[id] = value;
  }
  const inputs: Partial<Record<Modality, EncoderInput>> = {};
  let grid = request.grid;
  const entries = Object.entries(request.inputs ?? {});
  if (entries.length === 0) throw badRequest(`Give at least one input modality. This model takes: ${pkg.inputs.join(', ')}.`);
  for (const [name, input] of entries) {
    const id = modalityName(name, 'input');
    const m = manifest.modalities[id];
    if (!m?.input) throw badRequest(`This model (${manifest.name}) cannot take ${id} as an input. It takes: ${pkg.inputs.join(', ')}.`);
    if (inputs[id]) throw badRequest(`Input ${id} is given twice (as '${name}' and another spelling).`);
    if (!input || typeof input !== 'object') throw badRequest(`Input ${id} must be a raster or a list of bands.`);
    if ('tokens' in input) {
      const ids = input.tokens;
      const vocab = m.output?.vocabSize;
      if (MODALITIES[id].encoding !== 'token') throw badRequest(`Input ${id} is a pixel modality; give its bands, not tokens.`);
      if (!ids || ids.length !== TOKENS) throw badRequest(`Input ${id} tokens must be ${TOKENS} ids (14x14, raster order), got ${ids?.length ?? 0}.`);
      const out = new Int32Array(TOKENS);
      for (let i = 0; i < TOKENS; i += 1) {
        const v = Number(ids[i]);
        if (!Number.isInteger(v) || v < 0 || (vocab !== undefined && v >= vocab)) {
          throw badRequest(`Input ${id} token ${i} is ${ids[i]}; ids must be integers in [0, ${vocab ?? 'vocab'}).`);
        }
        out[i] = v;
      }
      inputs[id] = { ids: out };
      continue;
    }
    if (!hasBands(input) || !Array.isArray(input.bands)) throw badRequest(`Input ${id} must be a raster or a list of bands.`);
    if (isRaster(input)) {
      if (input.width !== 224 || input.height !== 224) {
        throw badRequest(`Input ${id} is ${input.width}x${input.height} pixels; the model takes 224x224 chips (tile larger areas).`);
      }
      const invalid = input.mask ? input.mask.reduce((n, v) => n + (v === 0 ? 1 : 0), 0) : 0;
      if (invalid > 0) throw badRequest(`Input ${id} has ${invalid} no-data pixels in its chip; the model needs complete chips.`);
      grid ??= { crs: input.crs, transform: input.transform, width: input.width, height: input.height };
    }
    if (input.bands.length !== m.bands.length) {
      throw badRequest(
        `Input ${id} has ${input.bands.length} bands; this model needs ${m.bands.length} in this order: ${m.bands.join(', ')}.`,
      );
    }
    input.bands.forEach((band, c) => {
      if (!band || band.length !== PIXELS) {
        throw badRequest(`Input ${id} band ${m.bands[c]} has ${band?.length ?? 0} values; a 224x224 chip needs ${PIXELS}.`);
      }
      for (let i = 0; i < PIXELS; i += 1) {
        if (!Number.isFinite(band[i])) {
          throw badRequest(
            `Input ${id} band ${m.bands[c]} has a non-finite value (${band[i]}) at row ${Math.floor(i / 224)}, column ${i % 224}; fill or mask no-data before generating.`,
          );
        }
      }
    });
    if (MODALITIES[id].encoding === 'token' && !m.input.tokenizerEncoder) {
      throw badRequest(`This model has no tokenizer for ${id} images; give ${id} as 196 token ids.`);
    }
    const classes = classCount(id, m);
    if (classes !== undefined) {
      // A class map goes to its tokenizer as the indices themselves (checked on the values given, never shifted).
      input.bands.forEach((band, c) => checkClassIndices(id, m.bands[c]!, band, 224, classes));
      inputs[id] = { pixels: standardize(input.bands, m.bands.map(() => 0), m.bands.map(() => 1)) };
    } else {
      inputs[id] = { pixels: standardize(input.bands, m.mean, m.std, offsets[id] ?? 0) };
    }
  }
  const thinking = [...new Set((request.thinking ?? []).map((name) => modalityName(name, 'thinking')))];
  for (const id of thinking) {
    const m = manifest.modalities[id];
    if (!m?.output || !m.input || MODALITIES[id].encoding !== 'token') {
      throw badRequest(`Thinking in ${id} is not possible with this model: it needs a token modality the model can both generate and take as input (e.g. LULC).`);
    }
  }
  const d = manifest.defaults;
  const timesteps = request.timesteps ?? d.timesteps;
  if (!Number.isInteger(timesteps) || timesteps < 1 || timesteps > manifest.diffusion.numTrainTimesteps) {
    throw badRequest(`timesteps must be an integer from 1 to ${manifest.diffusion.numTrainTimesteps}, got ${timesteps}.`);
  }
  const temperature = request.temperature ?? d.temperature;
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature)) {
    throw badRequest(`temperature must be a number >= 0 (0 = most likely token), got ${temperature}.`);
  }
  const topP = request.topP ?? d.topP;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw badRequest(`topP must be in (0, 1], got ${topP}.`);
  const topK = request.topK ?? d.topK;
  if (!Number.isInteger(topK) || topK < 0) throw badRequest(`topK must be an integer >= 0 (0 = off), got ${topK}.`);
  const seed = request.seed ?? randomInt(0, 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw badRequest(`seed must be an integer, got ${request.seed}.`);
  const chipId = request.chipId ?? '0';
  if (typeof chipId !== 'string') throw badRequest('chipId must be a string.');
  return { inputs, outputs, thinking, seed, chipId, timesteps, sampling: { temperature, topP, topK }, offsets, grid };
}

/** The whole generation of one chip (batch 1 here; the batcher stacks concurrent chips). */
async function runGeneration(ctx: ModelContext, request: GenerateRequest): Promise<GenerateResult> {
  const start = performance.now();
  const valid = validateRequest(ctx.pkg, request);
  const { pkg } = ctx;
  const stages: Record<string, number> = {};
  const time = async <T>(name: string, work: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const value = await work();
    stages[name] = (stages[name] ?? 0) + performance.now() - t0;
    return value;
  };
  const checkAbort = () => {
    if (request.signal?.aborted) throw request.signal.reason ?? new Error('generation aborted');
  };

  // Token modalities given as images go through their tokenizer encoder first.
  const encoderInputs: Partial<Record<Modality, EncoderInput>> = {};
  for (const [id, input] of Object.entries(valid.inputs) as [Modality, EncoderInput][]) {
    encoderInputs[id] =
      MODALITIES[id].encoding === 'token' && 'pixels' in input
        ? { ids: await time(`tokenize.${id}`, () => tokenizeInput(ctx, id, input.pixels, 1)) }
        : input;
  }
  const tokenRng = (id: Modality) => new Rng(deriveSeed(valid.seed, valid.chipId, id, 'tokens'));
  const sample = async (context: Awaited<ReturnType<typeof encode>>, id: Modality) => {
    const logits = await time(`decode.${id}`, () => decodeLogits(ctx, context, id));
    const vocab = pkg.manifest.modalities[id]!.output!.vocabSize;
    return time(`sample.${id}`, () => sampleTokens(logits, 1, vocab, valid.sampling, [tokenRng(id)]));
  };

  let context = await time('encode', () => encode(ctx, encoderInputs, 1));
  const sampled = new Map<Modality, Int32Array>();
  const thought: Modality[] = [];
  for (const id of valid.thinking) {
    if (encoderInputs[id]) continue; // already an input: nothing to think about
    checkAbort();
    const tokens = await sample(context, id);
    sampled.set(id, tokens);
    encoderInputs[id] = { ids: tokens };
    thought.push(id);
    request.onProgress?.({ modality: id, stage: 'tokens' });
  }
  if (thought.length > 0) context = await time('encode.thinking', () => encode(ctx, encoderInputs, 1));

  const outputs: Partial<Record<Modality, GeneratedOutput>> = {};
  for (const id of valid.outputs) {
    checkAbort();
    const m = pkg.manifest.modalities[id]!;
    const tokenizer = m.output!.tokenizer;
    // A thinking modality that is also an output keeps the tokens it was conditioned on.
    const tokens = sampled.get(id) ?? (await sample(context, id));
    request.onProgress?.({ modality: id, stage: 'tokens' });
    const codes = codesFor(pkg, id, tokens, 1);
    let bands: Float32Array[];
    let classLogits: Float32Array[] | undefined;
    if (tokenizer.kind === 'divae') {
      const noise = new Rng(deriveSeed(valid.seed, valid.chipId, id, 'noise')).normalArray(m.bands.length * PIXELS);
      const x = await time(`pixels.${id}`, () =>
        diffusionDecode(ctx, id, codes, noise, 1, valid.timesteps, (step, of) => {
          checkAbort();
          request.onProgress?.({ modality: id, stage: 'step', step, of });
        }),
      );
      bands = destandardize(x, m.mean, m.std, valid.offsets[id] ?? 0);
    } else {
      const decoded = await time(`pixels.${id}`, () => lulcDecode(ctx, id, codes, 1));
      bands = [decoded.classes];
      classLogits = Array.from({ length: decoded.numClasses }, (_, c) => decoded.logits.slice(c * PIXELS, (c + 1) * PIXELS));
    }
    const out: GeneratedOutput = { modality: id, bandNames: [...m.bands], bands, tokens };
    if (classLogits) out.classLogits = classLogits;
    if (valid.grid) {
      out.raster = { ...valid.grid, width: 224, height: 224, bands, bandNames: [...m.bands], mask: new Uint8Array(PIXELS).fill(255), modality: id };
    }
    outputs[id] = out;
    request.onProgress?.({ modality: id, stage: 'decoded' });
  }
  return { seed: valid.seed, outputs, thought, timings: { totalMs: performance.now() - start, encodeMs: stages.encode ?? 0, stages } };
}

export type { Feeds };
