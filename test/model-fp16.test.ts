import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareFp16, formatFigures, type Fp16Figures } from './helpers/fp16-compare.js';
import { PYTHON } from './helpers/reference-case.js';

/**
 * The fp16 copy of the committed package (`export.py --from-package ... --fp16`, the bytes an `--fp16` export
 * writes) against the fp32 package on the same inputs, through src/model. Tolerances are about 3x the figures
 * measured (docs/exporting.md): float16 keeps 11 significant bits, so each weight moves by up to 2^-11 of its size.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FP32 = join(ROOT, 'models/terramind-test-random');
const hasOnnx = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' }).status === 0;

let dir: string;
let figures: Fp16Figures;

beforeAll(async () => {
  if (!hasOnnx) return;
  dir = mkdtempSync(join(tmpdir(), 'tm-fp16-'));
  const out = join(dir, 'pkg');
  const r = spawnSync(PYTHON, [join(ROOT, 'models/exporter/export.py'), '--from-package', FP32, '--fp16', '--out', out], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`export.py --from-package failed: ${r.stderr}`);
  figures = await compareFp16(FP32, out);
  if (process.env.SHOW_FP16) console.log(formatFigures(figures));
}, 180_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasOnnx)('fp16 package vs fp32 on the same inputs (skipped without python3-onnx)', () => {
  it('is an fp16 package whose graphs store half-size weights', () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'pkg', 'manifest.json'), 'utf8')) as { name: string; precision: string };
    expect(manifest).toMatchObject({ name: 'terramind-v1-test-random-fp16', precision: 'fp16' });
    // the values do move: a no-op conversion would show zeros here
    expect(figures.context.maxAbs).toBeGreaterThan(1e-6);
  });

  it('tokenizes to the same ids and encodes to a context within 2e-3', () => {
    for (const eq of Object.values(figures.tokenizerIdsEqual)) expect(eq).toBeGreaterThanOrEqual(0.99);
    expect(figures.context.maxAbs).toBeLessThan(2e-3);
    expect(figures.context.meanAbs).toBeLessThan(5e-4);
  });

  it('decodes logits within 5e-4 with the same argmax almost everywhere', () => {
    expect(Object.keys(figures.logits)).toEqual(['S2L2A', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI']);
    for (const d of Object.values(figures.logits)) {
      expect(d.maxAbs).toBeLessThan(5e-4);
      expect(d.argmaxEqual).toBeGreaterThanOrEqual(0.99);
      // sampling turns a logit change into another token only near a cut: a few in a thousand
      expect(d.sampledEqual).toBeGreaterThanOrEqual(0.98);
    }
  });

  it('predicts one UNet step within 5e-3 and a 10-step decode within 1e-2 (standardized)', () => {
    expect(Object.keys(figures.decode)).toEqual(['S2L2A', 'S1GRD', 'S1RTC', 'DEM', 'NDVI']);
    for (const d of Object.values(figures.unetStep)) expect(d.maxAbs).toBeLessThan(5e-3);
    for (const d of Object.values(figures.decode)) {
      expect(d.maxAbs).toBeLessThan(1e-2);
      expect(d.meanAbs).toBeLessThan(1e-3);
    }
    // physical units are the standardized difference times the band's std: DEM std 951.272 m
    const dem = figures.decode.DEM!;
    expect(dem.physical!.unit).toBe('m');
    expect(dem.physical!.maxAbs).toBeCloseTo(dem.maxAbs * 951.272, 6);
  });
});
