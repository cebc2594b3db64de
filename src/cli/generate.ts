import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { badRequest, isOgcError } from '../errors.js';
import { createLogger } from '../logger.js';
import { parseModality } from '../modalities.js';
import type { Raster } from '../raster/raster.js';
import { encodeGeoTiff } from '../render/geotiff.js';
import { createModelRuntime } from '../model/runtime.js';
import { generateTiled } from '../model/tiled.js';
import { readGeoTiffRaster } from './read-input.js';

const USAGE = `Usage: npm run generate -- --input S2L2A=path/or/url.tif [--input S1RTC=...] --output LULC,DEM --out dir/
  [--seed 1] [--timesteps 10] [--temperature 1] [--top-p 0.8] [--top-k 0] [--thinking LULC] [--offset S2L2A=1000]
  [--model models/terramind-test-random]
Writes <out>/<MODALITY>.tif per output on the input grid. Inputs larger than 224x224 run as overlapping chips.`;

/** Parses argv into a generation job; throws with the usage text on mistakes. */
export function parseCliArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      input: { type: 'string', multiple: true },
      output: { type: 'string', multiple: true },
      out: { type: 'string' },
      seed: { type: 'string' },
      timesteps: { type: 'string' },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      'top-k': { type: 'string' },
      thinking: { type: 'string', multiple: true },
      offset: { type: 'string', multiple: true },
      model: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const pairs = (list: string[] | undefined, what: string) =>
    (list ?? []).flatMap((item) => item.split(',')).filter(Boolean).map((item) => {
      const at = item.indexOf('=');
      if (at <= 0) throw new Error(`--${what} wants MODALITY=value, got '${item}'\n${USAGE}`);
      const id = parseModality(item.slice(0, at));
      if (!id) throw new Error(`--${what}: unknown modality '${item.slice(0, at)}'\n${USAGE}`);
      return [id, item.slice(at + 1)] as const;
    });
  const num = (value: string | undefined, name: string) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${value}'`);
    return n;
  };
  const inputs = pairs(values.input, 'input');
  const outputs = (values.output ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
  if (inputs.length === 0 || outputs.length === 0 || !values.out) throw new Error(`--input, --output and --out are required\n${USAGE}`);
  return {
    inputs,
    outputs,
    out: values.out,
    model: values.model,
    seed: num(values.seed, 'seed'),
    timesteps: num(values.timesteps, 'timesteps'),
    temperature: num(values.temperature, 'temperature'),
    topP: num(values['top-p'], 'top-p'),
    topK: num(values['top-k'], 'top-k'),
    thinking: (values.thinking ?? []).flatMap((t) => t.split(',')).filter(Boolean),
    offsets: Object.fromEntries(pairs(values.offset, 'offset').map(([id, v]) => [id, Number(v)])),
  };
}

/** Runs a generation job end to end; returns the written files. Progress goes to `progress` (stderr by default). */
export async function runGenerateCli(argv: string[], progress: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {
  const job = parseCliArgs(argv);
  const config = loadConfig();
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const runtime = createModelRuntime(config, logger, { modelDir: job.model });
  try {
    const inputs: Record<string, Raster> = {};
    for (const [id, location] of job.inputs) {
      progress(`reading ${id} from ${location}`);
      const raster = await readGeoTiffRaster(location, id);
      const holes = raster.mask.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
      if (holes > 0) {
        // LULC has a class for it: TerraMind's class 0 is "No data", so such pixels can be written as 0 instead.
        const hint = id === 'LULC' ? ' For LULC, write them as class 0 ("No data") without declaring a nodata value.' : '';
        throw badRequest(`${location} has ${holes} no-data pixels; the model needs complete inputs.${hint}`);
      }
      inputs[id] = raster;
    }
    const started = performance.now();
    const result = await generateTiled(runtime, {
      inputs,
      outputs: job.outputs,
      seed: job.seed,
      timesteps: job.timesteps,
      temperature: job.temperature,
      topP: job.topP,
      topK: job.topK,
      thinking: job.thinking,
      offsets: job.offsets,
      concurrency: config.BATCH_MAX_SIZE,
      // One chip: report each stage; many chips: report chips.
      onProgress: Object.values(inputs).every((r) => r.width === 224 && r.height === 224)
        ? (e) => progress(e.stage === 'step' ? `${e.modality}: diffusion step ${e.step}/${e.of}` : `${e.modality}: ${e.stage}`)
        : undefined,
      onChip: (done, total) => progress(`chip ${done}/${total} done (${((performance.now() - started) / 1000).toFixed(1)} s)`),
    });
    mkdirSync(job.out, { recursive: true });
    const files: string[] = [];
    for (const [id, raster] of Object.entries(result.outputs)) {
      const file = join(job.out, `${id}.tif`);
      writeFileSync(file, encodeGeoTiff(raster));
      files.push(file);
      progress(`wrote ${file}`);
    }
    progress(`seed ${result.seed}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return { files, seed: result.seed };
  } finally {
    await runtime.close();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  runGenerateCli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${isOgcError(error) ? error.detail : (error as Error).message}\n`);
    process.exitCode = 1;
  });
}
