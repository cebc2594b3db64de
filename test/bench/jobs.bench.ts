/**
 * Jobs benchmark (`npm run bench:jobs`), loopback only, bounded.
 *
 * 3. COG writer: encodeCog (src/render/cog.ts) against `gdal_translate -of COG -co COMPRESS=DEFLATE
 *    -co PREDICTOR=YES -co BLOCKSIZE=512` of the same raster: wall time and bytes, on the 640 px mosaics of real
 *    TerraMind chips (S2L2A 12 bands, DEM) and a 2048 px terrain and class map.
 * 1. Job throughput: chips/s of a terramind-generate job over the S2L2A mosaic (fresh seed, nothing cached), beside
 *    the runtime's own chips/s (ModelRuntime.generate on the same chips' inputs, same concurrency and parameters):
 *    the job machinery's overhead (lattice reads, blending, COG, job store).
 * 2. Peak RSS of the process while one job at JOB_MAX_CHIPS runs, beside the bytes of its output rasters.
 *
 * BENCH_TIMESTEPS (default 4) sets the diffusion steps of both runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import { loadConfig } from '../../src/config.js';
import { createModelRuntime, type ChipInput } from '../../src/model/index.js';
import type { Raster } from '../../src/raster/raster.js';
import { encodeCog, type CogOptions } from '../../src/render/cog.js';
import { encodeGeoTiff } from '../../src/render/geotiff.js';
import { startTestApp } from '../helpers/app.js';
import { startFixtureServer } from '../helpers/fixture-server.js';
import { MOSAIC_SIZE, writeMosaic } from '../helpers/mosaic.js';

const TIMESTEPS = Number(process.env.BENCH_TIMESTEPS ?? 4);
const dir = mkdtempSync(join(tmpdir(), 'tmogc-bench-jobs-'));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

async function rasterOf(path: string): Promise<Raster> {
  const image = await (await fromFile(path)).getImage();
  const bands = ((await image.readRasters()) as unknown as ArrayLike<number>[]).map((band) => Float32Array.from(band));
  const [ox, oy] = image.getOrigin();
  const [rx, ry] = image.getResolution();
  return {
    crs: `EPSG:${image.getGeoKeys()!.ProjectedCSTypeGeoKey}`,
    transform: [rx, 0, ox, 0, ry, oy],
    width: image.getWidth(),
    height: image.getHeight(),
    bands,
    bandNames: bands.map((_, i) => `b${i + 1}`),
    mask: new Uint8Array(image.getWidth() * image.getHeight()).fill(255),
  };
}

/** A 2048 px terrain (smooth relief plus fine noise) and a class map of 64 px parcels. */
function syntheticRasters(): { dem: Raster; classes: Raster } {
  const size = 2048;
  const dem = new Float32Array(size * size);
  const classes = new Float32Array(size * size);
  let seed = 1;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      dem[y * size + x] = 800 + 300 * Math.sin(x / 211) * Math.cos(y / 173) + 40 * Math.sin((x + y) / 37) + noise();
      classes[y * size + x] = (Math.floor(x / 64) * 7 + Math.floor(y / 64) * 3) % 10;
    }
  }
  const grid = { crs: 'EPSG:32632', transform: [10, 0, 500_000, 0, -10, 5_000_000] as const, width: size, height: size, mask: new Uint8Array(size * size).fill(255) };
  return { dem: { ...grid, bands: [dem], bandNames: ['elevation'] }, classes: { ...grid, bands: [classes], bandNames: ['class'] } };
}

async function benchCog(name: string, raster: Raster, options: CogOptions, gdalType: string): Promise<void> {
  let ours = Infinity;
  let bytes: Uint8Array = new Uint8Array();
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    bytes = await encodeCog(raster, { blockSize: 512, ...options });
    ours = Math.min(ours, performance.now() - t0);
  }
  const source = join(dir, `${name}-source.tif`);
  writeFileSync(source, encodeGeoTiff(raster));
  const target = join(dir, `${name}-gdal.tif`);
  let gdal = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    execFileSync('gdal_translate', ['-q', '-of', 'COG', '-ot', gdalType, '-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=YES', '-co', 'BLOCKSIZE=512', source, target], { stdio: 'pipe' });
    gdal = Math.min(gdal, performance.now() - t0);
  }
  const raw = raster.width * raster.height * raster.bands.length * (options.sampleType === 'uint8' ? 1 : 4);
  console.log(
    `  ${name.padEnd(22)} ${`${raster.width}x${raster.height}x${raster.bands.length}`.padEnd(13)} raw ${mb(raw).padStart(9)} | ours ${ours.toFixed(0).padStart(5)} ms ${mb(bytes.length).padStart(9)} | ` +
      `gdal_translate ${gdal.toFixed(0).padStart(5)} ms ${mb(statSync(target).size).padStart(9)} | speed x${(gdal / ours).toFixed(2)}, size x${(bytes.length / statSync(target).size).toFixed(3)}`,
  );
}

async function main(): Promise<void> {
  const s2 = join(dir, 'S2L2A.tif');
  await writeMosaic('S2L2A', s2, ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12']);
  await writeMosaic('DEM', join(dir, 'DEM.tif'), ['elevation']);

  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const model = createModelRuntime(config);
  // The mosaic lives in a temp folder: a fixture server rooted there serves it.
  const mosaics = await startFixtureServer(`${dir}/`);
  const mosaicApp = await startTestApp({ model, env: { JOB_MAX_CHIPS: '100' }, allowHosts: [new URL(mosaics.url).host] });
  try {
    const href = `${mosaics.url}/S2L2A.tif`;
    const engine = mosaicApp.ctx.engine!;
    const plan = await engine.plan({ sources: [{ modality: 'S2L2A', href, trusted: false }], params: { seed: 0, timesteps: TIMESTEPS, temperature: 1, top_p: 0.8, top_k: 0, thinking: [] } });
    const chips = engine.countChips(plan, engine.latticeGrid(plan, plan.nativeBounds));
    const concurrency = config.GENERATION_CONCURRENCY || config.BATCH_MAX_SIZE;
    console.log(`1. Job throughput: the ${MOSAIC_SIZE} px S2L2A mosaic = ${chips} chips, output DEM, ${TIMESTEPS} diffusion steps, ${concurrency} chips at a time`);

    // The runtime alone: the same number of chip generations, inputs read once, same concurrency.
    const image = await (await fromFile(s2)).getImage();
    const bands = ((await image.readRasters({ window: [0, 0, 224, 224] })) as unknown as ArrayLike<number>[]).map((band) => Float32Array.from(band));
    const input: ChipInput = { bands };
    await model.generate({ inputs: { S2L2A: input }, outputs: ['DEM'], seed: 1, timesteps: TIMESTEPS });
    const runtimeAlone = async (round: number): Promise<number> => {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < chips) {
            const k = next++;
            await model.generate({ inputs: { S2L2A: input }, outputs: ['DEM'], seed: 1000 * round + k, chipId: `bench-${k}`, timesteps: TIMESTEPS });
          }
        }),
      );
      return (performance.now() - t0) / 1000;
    };
    // A job over the whole mosaic with a seed nothing is cached for; RSS sampled while it runs.
    const job = async (seed: number) => {
      let peak = 0;
      const baseline = process.memoryUsage().rss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const t0 = performance.now();
      const response = await mosaicApp.post('/processes/terramind-generate/execution', {
        inputs: { sources: [{ modality: 'S2L2A', href }], generate: ['DEM'], seed, timesteps: TIMESTEPS },
        response: 'document',
      });
      const seconds = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      if (response.status !== 200) throw new Error(`job: HTTP ${response.status} ${await response.text()}`);
      const results = (await response.json()) as { DEM: { href: string } };
      const jobId = results.DEM.href.split('/jobs/')[1].split('/')[0];
      const record = (await mosaicApp.ctx.jobs.repository.read(jobId))!;
      return { seconds, record, jobId, baseline, peak };
    };
    // The chip engine alone over the same area (reading the inputs of each chip, caching, blending): what a job adds
    // on top of it (COG, job store, HTTP) is the job machinery; what it adds on top of the runtime is the engine's.
    const engineAlone = async (seed: number): Promise<number> => {
      const fresh = await engine.plan({ sources: [{ modality: 'S2L2A', href, trusted: false }], params: { seed, timesteps: TIMESTEPS, temperature: 1, top_p: 0.8, top_k: 0, thinking: [] } });
      const t0 = performance.now();
      await engine.read(fresh, ['DEM'], engine.latticeGrid(fresh, fresh.nativeBounds));
      return (performance.now() - t0) / 1000;
    };
    const rounds: { runtime: number; engine: number; job: Awaited<ReturnType<typeof job>> }[] = [];
    for (let round = 1; round <= 3; round++) rounds.push({ runtime: await runtimeAlone(round), engine: await engineAlone(50_000 + round), job: await job(12_345 + round) });
    for (const [k, { runtime, engine: e, job: j }] of rounds.entries()) {
      console.log(
        `  round ${k + 1}: runtime ${(chips / runtime).toFixed(2)} chips/s (${runtime.toFixed(2)} s) | engine.read ${(chips / e).toFixed(2)} chips/s (${e.toFixed(2)} s) | ` +
          `job ${(j.record.chips!.generated / j.seconds).toFixed(2)} chips/s (${j.seconds.toFixed(2)} s, generated ${j.record.chips!.generated} of ${j.record.chips!.total})`,
      );
    }
    const best = (pick: (r: (typeof rounds)[number]) => number) => Math.min(...rounds.map(pick));
    const [bestRuntime, bestEngine, bestJob] = [best((r) => r.runtime), best((r) => r.engine), best((r) => r.job.seconds)];
    console.log(
      `  best of 3: runtime ${(chips / bestRuntime).toFixed(2)}, engine ${(chips / bestEngine).toFixed(2)}, job ${(chips / bestJob).toFixed(2)} chips/s; ` +
        `job / engine x${(bestJob / bestEngine).toFixed(3)} (the job machinery), engine / runtime x${(bestEngine / bestRuntime).toFixed(3)}, job / runtime x${(bestJob / bestRuntime).toFixed(3)}`,
    );

    const last = rounds.at(-1)!.job;
    const area = last.record.inputs.area as { width: number; height: number; chips: number };
    const rasterBytes = area.width * area.height * (4 + 1);
    const cogBytes = (await mosaicApp.ctx.jobs.repository.store.head(mosaicApp.ctx.jobs.repository.resultKey(last.jobId, 'DEM.tif')))!.size;
    console.log(`\n2. Peak RSS during a job at JOB_MAX_CHIPS (${area.chips} chips, ${area.width}x${area.height} px DEM), per round (the first also grows the ONNX arenas):`);
    for (const [k, { job: j }] of rounds.entries()) console.log(`  round ${k + 1}: RSS before ${mb(j.baseline)}, peak ${mb(j.peak)} (+${mb(j.peak - j.baseline)})`);
    console.log(`  output raster + mask ${mb(rasterBytes)}, the COG ${mb(cogBytes)}; process max RSS ${mb(process.resourceUsage().maxRSS * 1024)}`);

    console.log('\n3. COG write: encodeCog vs gdal_translate -of COG (DEFLATE, PREDICTOR=YES, 512 px tiles; best of 3; gdal_translate wall time includes its process start)');
    const { dem, classes } = syntheticRasters();
    await benchCog('S2L2A mosaic (real)', await rasterOf(s2), {}, 'Float32');
    await benchCog('DEM mosaic (real)', await rasterOf(join(dir, 'DEM.tif')), {}, 'Float32');
    await benchCog('terrain 2048 (float32)', dem, {}, 'Float32');
    await benchCog('classes 2048 (uint8)', classes, { sampleType: 'uint8', resampling: 'mode' }, 'Byte');
  } finally {
    await mosaicApp.close();
    await mosaics.close();
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
