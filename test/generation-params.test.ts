import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { beforeEach, describe, expect, it } from 'vitest';
import { canonicalSources, canonicalSpec, generationParamsSchema, parseGenerationParams, parseGenerationQuery, thinkingModalities } from '../src/generation/params.js';
import type { GenerationSource, GenerationSpec } from '../src/generation/types.js';
import { loadPackage, type ModelPackage } from '../src/model/manifest.js';
import { badRequestOf } from './helpers/expect-error.js';

/**
 * Generation parameters and sources as every form gives them (ad hoc query, collections file, execute
 * request): the defaults come from the package's manifest, bad values are 400s naming the parameter, and the
 * canonical spec (which names virtual collections and plans) is equal exactly when the generated output is.
 * The committed random package: defaults timesteps 10, temperature 1, top_p 0.8, top_k 0; 1000 train steps.
 */
const PACKAGE_DIR = fileURLToPath(new URL('../models/terramind-test-random', import.meta.url));
// The schema is built once per package object and kept: a fresh object per test, so that under mutation
// testing (every mutant reruns these tests in one process) no test reads a schema built by earlier code.
let pkg: ModelPackage;
beforeEach(() => {
  pkg = loadPackage(PACKAGE_DIR);
});
const DEFAULTS = { seed: 0, timesteps: 10, temperature: 1, top_p: 0.8, top_k: 0, thinking: [] };
const HELP =
  'Parameters: seed (integer >= 0, default 0), timesteps (1..1000, default 10), temperature (>= 0, default 1), ' +
  'top_p (0 < p <= 1, default 0.8), top_k (integer >= 0, default 0), thinking (LULC, NDVI).';

/** The message of the 400 that `parse` throws. */
const refusal = (parse: () => unknown): string => badRequestOf(parse).detail;
const JSON_SCHEMA_OPTIONS = { io: 'input', target: 'openapi-3.0' } as const;

describe('thinkingModalities', () => {
  it('names the token modalities the package both generates and takes as input', () => {
    expect(thinkingModalities(pkg)).toEqual(['LULC', 'NDVI']);
  });
});

describe('the parameter schema', () => {
  it('is published as this JSON Schema (process descriptions, OpenAPI): defaults, limits and descriptions', () => {
    expect(z.toJSONSchema(generationParamsSchema(pkg), JSON_SCHEMA_OPTIONS)).toEqual({
      type: 'object',
      properties: {
        seed: { default: 0, description: 'Random seed; the same seed gives the same output', type: 'integer', minimum: 0, maximum: 4294967295 },
        timesteps: { default: 10, description: 'Diffusion (DDIM) steps of the pixel decoders', type: 'integer', minimum: 1, maximum: 1000 },
        temperature: { default: 1, description: 'Sampling temperature (0 = most likely token)', type: 'number', minimum: 0, maximum: 100 },
        top_p: { default: 0.8, description: 'Nucleus sampling mass', type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1 },
        top_k: { default: 0, description: 'Top-k sampling (0 = off)', type: 'integer', minimum: 0, maximum: 1000000 },
        thinking: {
          default: [],
          description: 'Thinking-in-Modalities: generate these first and condition on them (LULC, NDVI)',
          type: 'array',
          items: { type: 'string', enum: ['LULC', 'NDVI'] },
        },
      },
      additionalProperties: false,
    });
  });

  it('is built once per package', () => {
    expect(generationParamsSchema(pkg)).toBe(generationParamsSchema(pkg));
  });

  it('for a package that can think in no modality, takes no thinking and says so', () => {
    const unthinking: ModelPackage = { ...pkg, inputs: pkg.inputs.filter((id) => id !== 'LULC' && id !== 'NDVI') };
    expect(thinkingModalities(unthinking)).toEqual([]);
    expect(z.toJSONSchema(generationParamsSchema(unthinking), JSON_SCHEMA_OPTIONS).properties!.thinking).toEqual({
      default: [],
      description: 'Thinking-in-Modalities: generate these first and condition on them (none)',
      maxItems: 0,
      type: 'array',
      items: { type: 'string' },
    });
    expect(parseGenerationQuery(unthinking, { seed: '2' })).toEqual({ ...DEFAULTS, seed: 2 });
    expect(refusal(() => parseGenerationQuery(unthinking, { thinking: 'LULC' }))).toBe(
      `Invalid generation query parameters: thinking: this model cannot think in any modality. ${HELP.replace('thinking (LULC, NDVI)', 'thinking (none)')}`,
    );
  });
});

describe('parseGenerationQuery', () => {
  it('gives the manifest defaults for parameters not named, and ignores other names', () => {
    expect(parseGenerationQuery(pkg, {})).toEqual(DEFAULTS);
    expect(parseGenerationQuery(pkg, { rescale: '0,3000', colormap: 'viridis' })).toEqual(DEFAULTS);
  });

  it('reads numbers in decimal and exponent form, with spaces around, and thinking as a comma list of any spelling', () => {
    const query = { seed: ' 3 ', timesteps: '1e1', temperature: '.5', top_p: '1', top_k: '5', thinking: ' lulc , NDVI ' };
    expect(parseGenerationQuery(pkg, query)).toEqual({ seed: 3, timesteps: 10, temperature: 0.5, top_p: 1, top_k: 5, thinking: ['LULC', 'NDVI'] });
    expect(parseGenerationQuery(pkg, { seed: '1.', temperature: '2E-1' })).toEqual({ ...DEFAULTS, seed: 1, temperature: 0.2 });
    expect(parseGenerationQuery(pkg, { timesteps: '1e2', top_p: '.55', temperature: '-.0' })).toEqual({ ...DEFAULTS, timesteps: 100, top_p: 0.55, temperature: -0 });
    expect(parseGenerationQuery(pkg, { seed: '1e+09', temperature: '25e-10' })).toEqual({ ...DEFAULTS, seed: 1e9, temperature: 2.5e-9 });
    expect(parseGenerationQuery(pkg, { temperature: '-0' }).temperature).toBe(-0);
    expect(parseGenerationQuery(pkg, { thinking: '' }).thinking).toEqual([]);
    expect(parseGenerationQuery(pkg, { thinking: '  ' }).thinking).toEqual([]);
  });

  it.each([
    [{ seed: 'x' }, 'seed: Invalid input: expected number, received string'],
    [{ seed: '0x10' }, 'seed: Invalid input: expected number, received string'],
    [{ seed: '1e' }, 'seed: Invalid input: expected number, received string'],
    [{ seed: '-1' }, 'seed: Too small: expected number to be >=0'],
    [{ seed: '1.5' }, 'seed: Invalid input: expected int, received number'],
    [{ seed: '4294967296' }, 'seed: Too big: expected number to be <=4294967295'],
    [{ timesteps: '0' }, 'timesteps: Too small: expected number to be >=1'],
    [{ timesteps: '1001' }, 'timesteps: Too big: expected number to be <=1000'],
    [{ temperature: '-0.1' }, 'temperature: Too small: expected number to be >=0'],
    [{ temperature: '101' }, 'temperature: Too big: expected number to be <=100'],
    [{ top_p: '0' }, 'top_p: Too small: expected number to be >0'],
    [{ top_p: '1.01' }, 'top_p: Too big: expected number to be <=1'],
    [{ top_k: '-1' }, 'top_k: Too small: expected number to be >=0'],
    [{ thinking: 'DEM' }, 'thinking.0: Invalid option: expected one of "LULC"|"NDVI"'],
  ])('refuses %j with a 400 naming the parameter and listing them all', (query, problem) => {
    expect(refusal(() => parseGenerationQuery(pkg, query))).toBe(`Invalid generation query parameters: ${problem}. ${HELP}`);
  });
});

describe('parseGenerationParams', () => {
  it('takes JSON values, no value as all defaults, and modality aliases in thinking', () => {
    expect(parseGenerationParams(pkg, undefined)).toEqual(DEFAULTS);
    expect(parseGenerationParams(pkg, null)).toEqual(DEFAULTS);
    expect(parseGenerationParams(pkg, { seed: 9, thinking: ['ndvi', 'lulc'] })).toEqual({ ...DEFAULTS, seed: 9, thinking: ['NDVI', 'LULC'] });
  });

  it('refuses what is not an object of known parameters, saying where the parameters came from', () => {
    expect(refusal(() => parseGenerationParams(pkg, []))).toBe(`Invalid generation parameters: value: Invalid input: expected object, received array. ${HELP}`);
    expect(refusal(() => parseGenerationParams(pkg, { seed: 1, extra: 2 }, 'generation parameters of collection s2-dem'))).toBe(
      `Invalid generation parameters of collection s2-dem: value: Unrecognized key: "extra". ${HELP}`,
    );
    expect(refusal(() => parseGenerationParams(pkg, { thinking: 'LULC' }))).toBe(`Invalid generation parameters: thinking: Invalid input: expected array, received string. ${HELP}`);
    expect(refusal(() => parseGenerationParams(pkg, { seed: '1' }))).toBe(`Invalid generation parameters: seed: Invalid input: expected number, received string. ${HELP}`);
    // Every problem is listed, each with its path; a name that is no modality is kept as given.
    expect(refusal(() => parseGenerationParams(pkg, { thinking: ['rgb', 5, 'XYZ'] }))).toBe(
      'Invalid generation parameters: thinking.0: Invalid option: expected one of "LULC"|"NDVI"; thinking.1: Invalid option: expected one of "LULC"|"NDVI"; ' +
        `thinking.2: Invalid option: expected one of "LULC"|"NDVI". ${HELP}`,
    );
  });
});

describe('canonical sources and spec', () => {
  const source = (modality: GenerationSource['modality'], href = `https://example.com/${modality}.json`, trusted = false): GenerationSource => ({ modality, href, trusted });
  const spec = (sources: GenerationSource[], params: Partial<GenerationSpec['params']> = {}): GenerationSpec => ({ sources, params: { ...DEFAULTS, ...params } });

  it('orders sources Sentinel-2 first, in the order of the modality list, without changing the caller\'s array', () => {
    const given = [source('DEM'), source('S1RTC'), source('S2L2A'), source('LULC')];
    expect(canonicalSources(given).map((s) => s.modality)).toEqual(['S2L2A', 'S1RTC', 'DEM', 'LULC']);
    expect(given.map((s) => s.modality)).toEqual(['DEM', 'S1RTC', 'S2L2A', 'LULC']);
  });

  it('refuses a modality given twice', () => {
    expect(refusal(() => canonicalSources([source('S2L2A'), source('DEM'), source('S2L2A', 'https://example.com/other.json')]))).toBe(
      'Source modality S2L2A is given twice; give each modality once.',
    );
  });

  it('is the same text for the same sources in any order and whoever named them, and differs when anything generated differs', () => {
    const base = canonicalSpec(spec([source('S2L2A'), source('S1RTC')]));
    expect(base).toBe(
      JSON.stringify({ sources: [['S2L2A', 'https://example.com/S2L2A.json'], ['S1RTC', 'https://example.com/S1RTC.json']], params: [0, 10, 1, 0.8, 0, []] }),
    );
    expect(canonicalSpec(spec([source('S1RTC', undefined, true), source('S2L2A')]))).toBe(base);
    const variants = [
      canonicalSpec(spec([source('S2L2A')])),
      canonicalSpec(spec([source('S2L2A'), source('S1RTC', 'https://example.com/other.json')])),
      canonicalSpec(spec([source('S2L2A'), source('S1GRD', 'https://example.com/S1RTC.json')])),
      ...(['seed', 'timesteps', 'temperature', 'top_p', 'top_k'] as const).map((name) => canonicalSpec(spec([source('S2L2A'), source('S1RTC')], { [name]: 0.5 }))),
      canonicalSpec(spec([source('S2L2A'), source('S1RTC')], { thinking: ['LULC'] })),
      canonicalSpec(spec([source('S2L2A'), source('S1RTC')], { thinking: ['LULC', 'NDVI'] })),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });
});
