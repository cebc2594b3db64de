import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPackage, parseManifest, referencedFiles } from '../src/model/manifest.js';

const S2 = {
  bands: ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12'],
  mean: new Array(12).fill(1000),
  std: new Array(12).fill(2000),
  input: { embed: 'embed_S2L2A.onnx' },
  output: {
    queries: 'queries_S2L2A.bin',
    head: 'head_S2L2A.onnx',
    vocabSize: 15360,
    tokenizer: { kind: 'divae', fsqLevels: [8, 8, 8, 6, 5], unet: 'unet_S2L2A.onnx' },
  },
};
const LULC = {
  bands: ['class'],
  mean: [0],
  std: [1],
  classes: 10,
  input: { embed: 'embed_LULC.onnx', tokenizerEncoder: 'tokenizer_encoder_LULC.onnx' },
  output: {
    queries: 'queries_LULC.bin',
    head: 'head_LULC.onnx',
    vocabSize: 4375,
    tokenizer: { kind: 'vqvae', fsqLevels: [7, 5, 5, 5, 5], decoder: 'decoder_LULC.onnx' },
  },
};
const manifest = () => ({
  schemaVersion: 1,
  name: 'terramind-test',
  version: '1.0.0',
  size: 'test',
  weights: 'random',
  precision: 'fp32',
  source: { seed: 0, checkpoints: [] },
  architecture: { dim: 32, heads: 2, encoderDepth: 1, decoderDepth: 1, mlp: 'gelu' },
  imageSize: 224,
  patchSize: 16,
  tokenGrid: [14, 14],
  encoder: 'encoder.onnx',
  decoder: 'decoder.onnx',
  modalities: { S2L2A: structuredClone(S2), LULC: structuredClone(LULC), S2RGB: { bands: ['r', 'g', 'b'], mean: [1, 2, 3], std: [1, 1, 1], input: { embed: 'embed_S2RGB.onnx' } } },
  diffusion: {
    numTrainTimesteps: 1000,
    betaStart: 0.0001,
    betaEnd: 0.02,
    betaSchedule: 'linear',
    zeroTerminalSnr: true,
    predictionType: 'sample',
    timestepSpacing: 'trailing',
    clipSample: 1.0,
  },
  defaults: { timesteps: 10, temperature: 1.0, topP: 0.8, topK: 0 },
});

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('model package manifest', () => {
  it('accepts the documented manifest and lists its files', () => {
    const m = parseManifest(manifest());
    expect(m.modalities.S2L2A?.output?.tokenizer.kind).toBe('divae');
    const files = referencedFiles(m).map(([, f]) => f);
    expect(files).toContain('unet_S2L2A.onnx');
    expect(files).toContain('decoder_LULC.onnx');
    expect(files).toContain('tokenizer_encoder_LULC.onnx');
    expect(files.length).toBe(12);
  });

  it('names the field of each problem', () => {
    const bad = manifest() as ReturnType<typeof manifest> & Record<string, unknown>;
    bad.modalities.S2L2A.std = bad.modalities.S2L2A.std.slice(1);
    bad.modalities.LULC.output.vocabSize = 4000;
    (bad.diffusion as Record<string, unknown>).predictionType = 'epsilon';
    (bad as Record<string, unknown>).encoder = '../outside.onnx';
    let message = '';
    try {
      parseManifest(bad);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/modalities\.S2L2A\.std: has 11 values for 12 bands/);
    expect(message).toMatch(/modalities\.LULC\.output\.vocabSize: 4000 is not the product/);
    expect(message).toMatch(/diffusion\.predictionType/);
    expect(message).toMatch(/encoder: must be a file name relative/);
  });

  it('rejects unknown modality keys', () => {
    const bad = manifest() as unknown as { modalities: Record<string, unknown> };
    bad.modalities.S3OLCI = structuredClone(S2);
    expect(() => parseManifest(bad)).toThrow(/modalities/);
  });

  it('loadPackage resolves files and reports missing ones by field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkg-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest()));
    const files = referencedFiles(parseManifest(manifest()));
    for (const [, f] of files.filter(([, f]) => f !== 'unet_S2L2A.onnx')) writeFileSync(join(dir, f), '');
    expect(() => loadPackage(dir)).toThrow(/modalities\.S2L2A\.output\.tokenizer\.unet = unet_S2L2A\.onnx/);
    writeFileSync(join(dir, 'unet_S2L2A.onnx'), '');
    const pkg = loadPackage(dir);
    expect(pkg.path('encoder.onnx')).toBe(join(dir, 'encoder.onnx'));
    expect(pkg.inputs).toEqual(['S2L2A', 'LULC', 'S2RGB']);
    expect(pkg.outputs).toEqual(['S2L2A', 'LULC']);
  });

  it('says when there is no manifest or it is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pkg-'));
    dirs.push(dir);
    expect(() => loadPackage(dir)).toThrow(/No manifest\.json/);
    writeFileSync(join(dir, 'manifest.json'), '{nope');
    expect(() => loadPackage(dir)).toThrow(/not valid JSON/);
  });
});
