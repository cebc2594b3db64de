import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { MODALITY_IDS, type Modality } from '../modalities.js';
import { fsqVocabSize } from './fsq.js';

/** manifest.json of a model package, exactly as docs/model-package.md (schemaVersion 1) describes it. */
const file = z
  .string()
  .min(1)
  .refine((value) => !isAbsolute(value) && !value.split(/[\\/]/).includes('..'), {
    message: 'must be a file name relative to the package folder',
  });
const levels = z.array(z.number().int().min(2)).min(1);

const DivaeTokenizer = z.object({ kind: z.literal('divae'), fsqLevels: levels, unet: file });
const VqvaeTokenizer = z.object({ kind: z.literal('vqvae'), fsqLevels: levels, decoder: file });

const ModalityEntry = z
  .object({
    bands: z.array(z.string().min(1)).min(1),
    mean: z.array(z.number()),
    std: z.array(z.number().positive()),
    classes: z.number().int().min(2).optional(),
    input: z.object({ embed: file, tokenizerEncoder: file.optional() }).optional(),
    output: z
      .object({
        queries: file,
        head: file,
        vocabSize: z.number().int().min(2),
        tokenizer: z.discriminatedUnion('kind', [DivaeTokenizer, VqvaeTokenizer]),
      })
      .optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.mean.length !== entry.bands.length) {
      ctx.addIssue({ code: 'custom', path: ['mean'], message: `has ${entry.mean.length} values for ${entry.bands.length} bands` });
    }
    if (entry.std.length !== entry.bands.length) {
      ctx.addIssue({ code: 'custom', path: ['std'], message: `has ${entry.std.length} values for ${entry.bands.length} bands` });
    }
    const output = entry.output;
    if (output && fsqVocabSize(output.tokenizer.fsqLevels) !== output.vocabSize) {
      ctx.addIssue({
        code: 'custom',
        path: ['output', 'vocabSize'],
        message: `${output.vocabSize} is not the product of fsqLevels [${output.tokenizer.fsqLevels.join(', ')}]`,
      });
    }
    if (output?.tokenizer.kind === 'vqvae' && entry.classes === undefined) {
      ctx.addIssue({ code: 'custom', path: ['classes'], message: 'is required for a vqvae (class map) output' });
    }
  });

export const ManifestSchema = z.object({
  schemaVersion: z.literal(1),
  name: z.string().min(1),
  version: z.string().min(1),
  size: z.enum(['tiny', 'small', 'base', 'large', 'test']),
  weights: z.enum(['official', 'random']),
  precision: z.enum(['fp32', 'fp16']),
  source: z.object({
    seed: z.number().int().optional(),
    checkpoints: z.array(z.object({ file: z.string(), sha256: z.string() })).default([]),
  }),
  architecture: z.object({
    dim: z.number().int().positive(),
    heads: z.number().int().positive(),
    encoderDepth: z.number().int().positive(),
    decoderDepth: z.number().int().positive(),
    mlp: z.enum(['gated-silu', 'gelu']),
  }),
  imageSize: z.literal(224),
  patchSize: z.literal(16),
  tokenGrid: z.tuple([z.literal(14), z.literal(14)]),
  encoder: file,
  decoder: file,
  modalities: z.partialRecord(z.enum(MODALITY_IDS), ModalityEntry),
  diffusion: z.object({
    numTrainTimesteps: z.number().int().positive(),
    betaStart: z.number().positive(),
    betaEnd: z.number().positive(),
    betaSchedule: z.literal('linear'),
    zeroTerminalSnr: z.boolean(),
    predictionType: z.literal('sample'),
    timestepSpacing: z.literal('trailing'),
    clipSample: z.number().positive(),
  }),
  defaults: z.object({
    timesteps: z.number().int().positive(),
    temperature: z.number().min(0),
    topP: z.number().min(0).max(1),
    topK: z.number().int().min(0),
  }),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ModalityManifest = z.infer<typeof ModalityEntry>;

/** A validated package: its manifest and the absolute path of every file it names. */
export interface ModelPackage {
  dir: string;
  manifest: Manifest;
  /** Absolute path of a file named in the manifest. */
  path(fileName: string): string;
  /** Modalities that can be inputs / outputs, in manifest order. */
  inputs: Modality[];
  outputs: Modality[];
}

export class ModelPackageError extends Error {
  override name = 'ModelPackageError';
}

/** Validates a parsed manifest; errors name the field (e.g. `modalities.DEM.std: ...`). */
export function parseManifest(json: unknown, where = 'manifest.json'): Manifest {
  const result = ManifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ModelPackageError(`Invalid model package ${where}:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}

/** Reads and validates `<dir>/manifest.json` and checks that every file it names exists. */
export function loadPackage(dir: string): ModelPackage {
  const root = resolve(dir);
  const manifestPath = join(root, 'manifest.json');
  if (!existsSync(manifestPath)) throw new ModelPackageError(`No manifest.json in model package folder ${root}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (error) {
    throw new ModelPackageError(`${manifestPath} is not valid JSON: ${(error as Error).message}`);
  }
  const manifest = parseManifest(json, manifestPath);
  const missing = referencedFiles(manifest).filter(([, name]) => !existsSync(join(root, name)));
  if (missing.length > 0) {
    throw new ModelPackageError(
      `Model package ${root} is missing files: ${missing.map(([field, name]) => `${field} = ${name}`).join(', ')}`,
    );
  }
  const entries = Object.entries(manifest.modalities) as [Modality, ModalityManifest][];
  return {
    dir: root,
    manifest,
    path: (fileName) => join(root, fileName),
    inputs: entries.filter(([, m]) => m.input).map(([id]) => id),
    outputs: entries.filter(([, m]) => m.output).map(([id]) => id),
  };
}

/** [field path, file name] of every file the manifest references. */
export function referencedFiles(manifest: Manifest): [string, string][] {
  const files: [string, string][] = [
    ['encoder', manifest.encoder],
    ['decoder', manifest.decoder],
  ];
  for (const [id, m] of Object.entries(manifest.modalities) as [string, ModalityManifest][]) {
    if (m.input) {
      files.push([`modalities.${id}.input.embed`, m.input.embed]);
      if (m.input.tokenizerEncoder) files.push([`modalities.${id}.input.tokenizerEncoder`, m.input.tokenizerEncoder]);
    }
    if (m.output) {
      files.push([`modalities.${id}.output.queries`, m.output.queries]);
      files.push([`modalities.${id}.output.head`, m.output.head]);
      const t = m.output.tokenizer;
      files.push(t.kind === 'divae' ? [`modalities.${id}.output.tokenizer.unet`, t.unet] : [`modalities.${id}.output.tokenizer.decoder`, t.decoder]);
    }
  }
  return files;
}
