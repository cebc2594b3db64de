/**
 * Model benchmark (npm run bench:model): per-stage and per-chip CPU timings of the ONNX runtime, for the committed
 * small package and, when BENCH_MODEL_DIR names one, a base-size random package; plus the same stages timed by the
 * PyTorch reference runner (models/exporter/reference.py bench) and the ONNX/PyTorch ratio.
 *
 * Env: BENCH_MODEL_DIR (second package), BENCH_REPEAT (default 3), BENCH_TIMESTEPS (per-chip runs, default 10),
 * BENCH_BATCHES (default 1,8), BENCH_CHIPS (per-chip runs at batch 1, default 2), INTRA_OP_THREADS,
 * BENCH_TORCH_LINEAR (comma list of reference.py --linear variants, default "default"; "default,onednn" adds a
 * column with nn.Linear through oneDNN: Debian's torch here is built on the reference BLAS).
 * The PyTorch side runs with as many threads as ORT's intra-op pool (INTRA_OP_THREADS, else ORT's default of
 * one per core), after the ONNX sessions are closed, so the two never hold memory at once.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { decodeLogits, diffusionDecode, encode, lulcDecode, PIXELS, type ModelContext } from '../../src/model/generate.js';
import { loadPackage, type ModelPackage } from '../../src/model/manifest.js';
import { Rng } from '../../src/model/rng.js';
import { createModelRuntime } from '../../src/model/runtime.js';
import { sampleTokens } from '../../src/model/sampling.js';
import { ModelSessions } from '../../src/model/sessions.js';
import { PYTHON, REFERENCE_RUNNER } from '../helpers/reference-case.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const TIMESTEPS = Number(process.env.BENCH_TIMESTEPS ?? 10);
const BATCHES = (process.env.BENCH_BATCHES ?? '1,8').split(',').map(Number);
const CHIPS = Number(process.env.BENCH_CHIPS ?? 2);
const config = loadConfig();
const TORCH_LINEAR = (process.env.BENCH_TORCH_LINEAR ?? 'default').split(',');
// ORT's default intra-op pool has one thread per core; the reference gets the same count for a fair ratio.
const TORCH_THREADS = config.INTRA_OP_THREADS || availableParallelism();

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function timeIt(fn: () => Promise<unknown> | unknown, repeat = REPEAT): Promise<number> {
  await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < repeat; i += 1) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

type StageTimes = Record<string, Record<string, number>>;

function referenceBench(dir: string, linear: string): StageTimes | undefined {
  if (!existsSync(REFERENCE_RUNNER)) {
    console.log('  (no models/exporter/reference.py: PyTorch timings skipped)');
    return undefined;
  }
  const args = [REFERENCE_RUNNER, 'bench', dir, '--repeat', String(REPEAT), '--batches', BATCHES.join(','), '--threads', String(TORCH_THREADS), '--linear', linear];
  console.log(`  PyTorch reference (${linear} linear, ${TORCH_THREADS} threads), node RSS now ${mib(process.memoryUsage().rss)}: python3 ${args.join(' ')}`);
  try {
    const t0 = performance.now();
    const out = execFileSync(PYTHON, args, {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
      timeout: 3_600_000,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const res = JSON.parse(out.trim().split('\n').at(-1)!);
    console.log(`  PyTorch ${res.torch}: modules built in ${res.buildSeconds} s, run ${((performance.now() - t0) / 1000).toFixed(0)} s, peak RSS ${res.peakRssMiB} MiB`);
    return res.stages;
  } catch (error) {
    console.log(`  (reference bench failed: ${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

async function benchStages(pkg: ModelPackage) {
  const sessions = new ModelSessions(pkg, {
    executionProviders: config.EXECUTION_PROVIDERS,
    intraOpThreads: config.INTRA_OP_THREADS,
    interOpThreads: config.INTER_OP_THREADS,
  });
  const ctx: ModelContext = { pkg, run: (part, feeds) => sessions.run(part, feeds), queryCache: new Map() };
  const m = pkg.manifest.modalities;
  const dem = m.DEM!.output!;
  const lulc = m.LULC!.output!;
  const files = [
    m.S2L2A!.input!.embed,
    pkg.manifest.encoder,
    pkg.manifest.decoder,
    dem.head,
    dem.tokenizer.kind === 'divae' ? dem.tokenizer.unet : '',
    lulc.tokenizer.kind === 'vqvae' ? lulc.tokenizer.decoder : '',
  ];
  const t0 = performance.now();
  await sessions.openAll(files);
  const createMs = performance.now() - t0;
  console.log(`  session creation (${files.length} parts): ${createMs.toFixed(0)} ms`);
  for (const f of files) console.log(`    ${f}: ${sessions.createMs.get(f)!.toFixed(0)} ms`);

  const results: Record<string, Record<string, number>> = {};
  for (const b of BATCHES) {
    const rng = new Rng(b);
    const pixels = rng.normalArray(b * 12 * PIXELS);
    const context = await encode(ctx, { S2L2A: { pixels } }, b);
    const logits = await decodeLogits(ctx, context, 'DEM');
    const demLevels = dem.tokenizer.fsqLevels.length;
    const code = new Float32Array(b * demLevels * 196).map(() => rng.uniform());
    const x = rng.normalArray(b * PIXELS);
    const lulcCode = new Float32Array(b * lulc.tokenizer.fsqLevels.length * 196).map(() => rng.uniform());
    const rngs = Array.from({ length: b }, (_, i) => new Rng(i));
    const stages: Record<string, number> = {
      'embed_S2L2A+encoder': await timeIt(() => encode(ctx, { S2L2A: { pixels } }, b)),
      'decoder+head_DEM': await timeIt(() => decodeLogits(ctx, context, 'DEM')),
      sampling_DEM: await timeIt(() => sampleTokens(logits, b, dem.vocabSize, { temperature: 1, topP: 0.8, topK: 0 }, rngs)),
      unet_step_DEM: await timeIt(() => diffusionDecode(ctx, 'DEM', code, x, b, 1)),
      decoder_LULC: await timeIt(() => lulcDecode(ctx, 'LULC', lulcCode, b)),
    };
    results[`batch${b}`] = stages;
  }
  await sessions.close();
  return { results, createMs };
}

async function benchChips(dir: string) {
  const runtime = createModelRuntime({ ...config, BATCH_MAX_SIZE: Math.max(...BATCHES), BATCH_MAX_WAIT_MS: 20 }, undefined, { modelDir: dir });
  const rng = new Rng(9);
  const bands = runtime.manifest.modalities.S2L2A!.mean.map((mean, c) =>
    new Float32Array(PIXELS).map(() => mean + runtime.manifest.modalities.S2L2A!.std[c]! * rng.normal() * 0.5),
  );
  const request = (seed: number) => ({ inputs: { S2L2A: { bands } }, outputs: ['DEM', 'LULC'], seed, timesteps: TIMESTEPS });
  const t0 = performance.now();
  await runtime.warmUp();
  const warmMs = performance.now() - t0;
  const out: Record<string, number> = {};
  for (const b of BATCHES) {
    const n = b === 1 ? CHIPS : b;
    const start = performance.now();
    if (b === 1) for (let i = 0; i < n; i += 1) await runtime.generate(request(i));
    else await Promise.all(Array.from({ length: n }, (_, i) => runtime.generate(request(i))));
    out[`batch${b}`] = n / ((performance.now() - start) / 1000);
  }
  await runtime.close();
  return { chipsPerSecond: out, warmMs };
}

async function benchPackage(label: string, dir: string) {
  const pkg = loadPackage(dir);
  const a = pkg.manifest.architecture;
  console.log(`\n== ${label}: ${pkg.manifest.name} (size ${pkg.manifest.size}, dim ${a.dim}, ${pkg.manifest.precision}) at ${dir}`);
  console.log(`  providers ${config.EXECUTION_PROVIDERS.join(',')}, intra-op threads ${config.INTRA_OP_THREADS || 'default'}, repeat ${REPEAT}`);
  peakRss = process.memoryUsage().rss;
  const { results } = await benchStages(pkg);
  for (const [batch, stages] of Object.entries(results)) {
    console.log(`  ONNX ${batch}: ${Object.entries(stages).map(([stage, ms]) => `${stage} ${ms.toFixed(2)} ms`).join(', ')}`);
  }
  const chips = await benchChips(dir);
  console.log(`  runtime warm-up (all parts, 1 step): ${chips.warmMs.toFixed(0)} ms`);
  for (const [batch, cps] of Object.entries(chips.chipsPerSecond)) {
    console.log(`  per chip S2L2A -> DEM + LULC, ${TIMESTEPS} steps, ${batch}: ${cps.toFixed(3)} chips/s (${(1000 / cps).toFixed(0)} ms/chip)`);
  }
  console.log(`  peak RSS: ${mib(peakRss)}`);
  // PyTorch last, after the ONNX sessions are closed: base torch on the reference BLAS runs for many minutes.
  const references = TORCH_LINEAR.map((linear) => [linear, referenceBench(dir, linear)] as const);
  for (const [batch, stages] of Object.entries(results)) {
    console.log(`  ${batch}:`);
    for (const [stage, ms] of Object.entries(stages)) {
      const cols = references.map(([linear, ref]) => {
        const r = ref?.[batch]?.[stage];
        return r ? `  PyTorch[${linear}] ${r.toFixed(2)} ms  ONNX/PyTorch ${(ms / r).toFixed(3)}` : '';
      });
      console.log(`    ${stage.padEnd(22)} ${ms.toFixed(2).padStart(10)} ms${cols.join('')}`);
    }
  }
}

await benchPackage('small (committed)', join(ROOT, 'models/terramind-test-random'));
const second = process.env.BENCH_MODEL_DIR;
if (second && existsSync(join(second, 'manifest.json'))) await benchPackage('BENCH_MODEL_DIR', second);
else console.log(`\n(BENCH_MODEL_DIR ${second ? `=${second} has no manifest.json` : 'not set'}: base-size package skipped; build one with models/exporter/export.py --random --config base --out DIR)`);
clearInterval(sampler);
