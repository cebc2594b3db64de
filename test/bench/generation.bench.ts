/**
 * Generated tiles benchmark (`npm run bench:generation`), loopback only, bounded loops. The service runs over the
 * committed random-weights package (models/terramind-test-random, the manifest's default 10 diffusion steps) and
 * generates from the 640 px mosaic of real chips (test/helpers/mosaic.ts) served by a loopback fixture server.
 *
 * 1. Cache-miss generated tile (LULC and DEM, WebMercatorQuad 15 and 16, at the mosaic centre, a fresh seed per
 *    repetition so every chip misses): HTTP wall time beside the pure model time of the chips it needed. The
 *    runtime's generate() is wrapped (instrumented, not replaced) to capture the exact requests the engine made;
 *    after the tile they are replayed through the same runtime, concurrently as the engine ran them, and that
 *    wall time is the model time. The process CPU time (all threads) of the tile and of the replay is given too:
 *    on a shared machine it moves less with other sessions' load than wall time does. Chips are counted three
 *    ways: engine.countChips (what the zoom limit counts), engine.stats().generated and the captured calls.
 * 2. Cache-hit generated tile: req/s at concurrency 1 and 32 beside a node:http server answering the same bytes.
 * 3. Burst of 20 DEM tiles of one map view (5 x 4 at zoom 16) at concurrency 8, batcher on (BATCH_MAX_SIZE 8) and
 *    off (BATCH_MAX_SIZE 1), each in a fresh child process (fresh app, cache and RSS): tiles/s, chips generated
 *    against the minimum (unique chips over those tiles from src/generation/lattice.ts), ONNX runs and rows per
 *    run (the runtime's onRun hook), /health latency polled every 20 ms during the burst (how long the service
 *    keeps other clients waiting while it generates), peak RSS sampled every 50 ms during the burst.
 * 4. Bytes per cached chip per output: the encoded chip objects the engine put in the memory cache store.
 *
 * Env: BENCH_REPEAT (section 1 repetitions, default 3), BENCH_HITS (cache-hit requests at concurrency 1, default
 * 1000; 4x that at 32), BENCH_BURST_BATCH (default "8,1"), BENCH_SECTIONS (default "1,2,3,4"; 2 needs 1).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { load as loadTest, percentile } from './load.js';
import { decodeChip } from '../../src/generation/chip-codec.js';
import { chipsCovering, chipWindow, latticeFor, latticeWindow, windowForTarget } from '../../src/generation/lattice.js';
import { parseGenerationQuery } from '../../src/generation/params.js';
import { tileGrid } from '../../src/grid/tiles.js';
import { getTileMatrixSet } from '../../src/grid/tms.js';
import type { Modality } from '../../src/modalities.js';
import type { GenerateRequest, GenerateResult } from '../../src/model/runtime.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startFixtureServer } from '../helpers/fixture-server.js';
import { buildMosaicInputs, MOSAIC_ORIGIN, MOSAIC_SIZE } from '../helpers/mosaic.js';
import { slippyTile } from '../helpers/tiles.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const HITS = Number(process.env.BENCH_HITS ?? 1000);
const BURST_BATCH = (process.env.BENCH_BURST_BATCH ?? '8,1').split(',').map(Number);
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? '1,2,3,4').split(',').map(Number));
/** Centre of the 640 px mosaic (as in test/generation-tiles.test.ts). */
const MOSAIC_CENTRE: [number, number] = [34.08476, -3.42017];
const WEB_MERCATOR = getTileMatrixSet('WebMercatorQuad');
/**
 * The service's default fetch timeout instead of the tests' 5 s: on a loaded machine a source read competing with
 * the ONNX threads for the cores can pass 5 s (a 502) while the service default would not.
 */
const SERVICE_TIMEOUTS = { FETCH_TIMEOUT_MS: '15000' };

const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

interface Call {
  request: GenerateRequest;
  result: GenerateResult;
  start: number;
  end: number;
}

/** Wraps runtime.generate to record each chip the engine generates (the engine calls it through the object). */
function instrument(app: TestApp) {
  const runtime = app.ctx.model!;
  const original = runtime.generate;
  const calls: Call[] = [];
  runtime.generate = async (req) => {
    const start = performance.now();
    const result = await original(req);
    calls.push({ request: req, result, start, end: performance.now() });
    return result;
  };
  return { calls, original };
}

function tileQuery(sources: Record<string, string>, params: Record<string, string | number> = {}): string {
  return [...Object.entries(sources), ...Object.entries(params)].map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
}

async function getTile(app: TestApp, path: string) {
  const response = await app.get(path);
  const body = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status} ${new TextDecoder().decode(body).slice(0, 300)}`);
  return { body, cache: response.headers.get('x-cache'), etag: response.headers.get('etag') ?? '' };
}

/** The unique lattice chips the tiles need that meet the mosaic: the least any engine has to generate. */
function minimumChips(tiles: [z: number, row: number, col: number][]): number {
  const lattice = latticeFor({ crs: 'EPSG:32736', resolution: 10, origin: MOSAIC_ORIGIN, bounds: [0, 0, 0, 0] });
  const [ox, oy] = MOSAIC_ORIGIN;
  const footprint = latticeWindow(lattice, [ox, oy - 10 * MOSAIC_SIZE, ox + 10 * MOSAIC_SIZE, oy]);
  const unique = new Set<string>();
  for (const [z, row, col] of tiles) {
    const window = windowForTarget(lattice, tileGrid(WEB_MERCATOR, WEB_MERCATOR.definition.tileMatrices[z]!, row, col))!;
    for (const chip of chipsCovering(window)) {
      const w = chipWindow(chip);
      if (w.col0 < footprint.col1 && w.col1 > footprint.col0 && w.row0 < footprint.row1 && w.row1 > footprint.row0) unique.add(`${chip.i},${chip.j}`);
    }
  }
  return unique.size;
}

// --- section 3 runs in a child process: `generation.bench.ts --burst <BATCH_MAX_SIZE> <inputs URL>` ----------
async function burstChild(batch: number, inputsUrl: string) {
  const runs: number[] = [];
  const app = await startTestApp({
    model: true,
    allowHosts: [new URL(inputsUrl).host],
    env: { ...SERVICE_TIMEOUTS, BATCH_MAX_SIZE: String(batch) },
    onRun: (_part, rows) => runs.push(rows),
  });
  await app.ctx.model!.warmUp();
  const { calls } = instrument(app);
  runs.length = 0;
  const q = tileQuery({ S2L2A: `${inputsUrl}/S2L2A.tif` });
  // A map client reads the collection first (that opens the sources); the burst is the tiles of the view.
  await (await app.get(`/collections/DEM?${q}`)).arrayBuffer();
  const [row0, col0] = slippyTile(...MOSAIC_CENTRE, 16);
  const tiles: [number, number, number][] = [];
  for (let dr = -2; dr < 2; dr += 1) for (let dc = -2; dc < 3; dc += 1) tiles.push([16, row0 + dr, col0 + dc]);
  let peakRss = process.memoryUsage().rss;
  const rssBefore = peakRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const latencies: number[] = [];
  let next = 0;
  // A liveness probe polls /health throughout the burst: how long the service keeps others waiting meanwhile.
  const health: number[] = [];
  let bursting = true;
  const prober = (async () => {
    while (bursting) {
      const t0 = performance.now();
      await (await app.get('/health')).arrayBuffer();
      health.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < tiles.length) {
        const [z, row, col] = tiles[next++]!;
        const t0 = performance.now();
        const tile = await getTile(app, `/collections/DEM/map/tiles/WebMercatorQuad/${z}/${row}/${col}?${q}`);
        if (tile.cache !== 'miss') throw new Error(`burst tile ${z}/${row}/${col} was not a miss`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  bursting = false;
  await prober;
  health.sort((a, b) => a - b);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  latencies.sort((a, b) => a - b);
  const result = {
    batch,
    concurrency: app.ctx.config.GENERATION_CONCURRENCY || app.ctx.config.BATCH_MAX_SIZE,
    seconds,
    tilesPerSecond: tiles.length / seconds,
    p50: percentile(latencies, 0.5),
    max: latencies.at(-1)!,
    generated: app.ctx.engine!.stats().generated,
    modelCalls: calls.length,
    minimum: minimumChips(tiles),
    runs: runs.length,
    rows: runs.reduce((s, r) => s + r, 0),
    maxRows: Math.max(...runs),
    healthP50: percentile(health, 0.5),
    healthMax: health.at(-1)!,
    rssBefore,
    peakRss,
    hwm,
    load: load(),
  };
  await app.close();
  process.stdout.write(`BURST ${JSON.stringify(result)}\n`);
}

function runBurstChild(batch: number, inputsUrl: string): Promise<any> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, '--burst', String(batch), inputsUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BURST '));
      if (code !== 0 || !line) reject(new Error(`burst child (batch ${batch}) exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line.slice(6)));
    });
  });
}

interface Bench {
  app: TestApp;
  inputsUrl: string;
  calls: Call[];
  original: (request: GenerateRequest) => Promise<GenerateResult>;
  onnxRuns: () => number;
  chipKeys: string[];
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** 1. Cache-miss tiles: wall vs model. Returns the wall/model ratios and the path of its last tile (now cached). */
async function cacheMisses({ app, inputsUrl, calls, original, onnxRuns }: Bench) {
  const engine = app.ctx.engine!;
  const S2 = `${inputsUrl}/S2L2A.tif`;
  log('');
  log(`## 1. cache-miss generated tile (PNG, S2L2A mosaic, ${REPEAT} seeds each; load ${load()})`);
  log('| tile | chips (countChips / generated / model calls) | ONNX runs (tile / replay) | wall ms | model ms | (wall - model) / chip ms | before model ms | model span ms | after model ms | wall/model | CPU ms tile / model | CPU tile/model |');
  log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let seed = 1000;
  let hitPath = '';
  for (const output of ['LULC', 'DEM'] as Modality[]) {
    for (const z of [15, 16]) {
      const [row, col] = slippyTile(...MOSAIC_CENTRE, z);
      const rows: number[][] = [];
      let counted = '';
      const tileRunsPerSeed: number[] = [];
      const replayRunsPerSeed: number[] = [];
      for (let k = 0; k < REPEAT; k += 1) {
        seed += 1;
        calls.length = 0;
        const runsBefore = onnxRuns();
        const generatedBefore = engine.stats().generated;
        const cpu0 = process.cpuUsage();
        const started = performance.now();
        const path = `/collections/${output}/map/tiles/WebMercatorQuad/${z}/${row}/${col}?${tileQuery({ S2L2A: S2 }, { seed })}`;
        hitPath = path;
        const tile = await getTile(app, path);
        const wall = performance.now() - started;
        const cpuTile = cpuMs(process.cpuUsage(cpu0));
        if (tile.cache !== 'miss') throw new Error('expected a cache miss');
        const made = [...calls];
        const spec = { sources: [{ modality: 'S2L2A' as Modality, href: S2, trusted: false }], params: parseGenerationQuery(engine.pkg, { seed: String(seed) }) };
        const plan = await engine.plan(spec);
        const grid = tileGrid(WEB_MERCATOR, WEB_MERCATOR.definition.tileMatrices[z]!, row, col);
        counted = `${engine.countChips(plan, grid)} / ${engine.stats().generated - generatedBefore} / ${made.length}`;
        const tileRuns = onnxRuns() - runsBefore;
        // The same chips' requests, replayed through the runtime alone, as concurrently as the engine ran them.
        const cpu1 = process.cpuUsage();
        const m0 = performance.now();
        const replayed = await Promise.all(made.map((call) => original(call.request)));
        const model = performance.now() - m0;
        const cpuModel = cpuMs(process.cpuUsage(cpu1));
        tileRunsPerSeed.push(tileRuns);
        replayRunsPerSeed.push(onnxRuns() - runsBefore - tileRuns);
        replayed.forEach((result, i) => {
          const a = result.outputs[output]!.bands[0]!;
          const b = made[i]!.result.outputs[output]!.bands[0]!;
          if (a.some((v, p) => v !== b[p])) throw new Error('replayed chip differs from the generated one');
        });
        const first = Math.min(...made.map((c) => c.start));
        const last = Math.max(...made.map((c) => c.end));
        rows.push([wall, model, (wall - model) / made.length, first - started, last - first, started + wall - last, cpuTile, cpuModel, cpuTile / cpuModel]);
        ratios.push(wall / model);
      }
      const col5 = (i: number) => median(rows.map((r) => r[i]!));
      const ratio = median(rows.map((r) => r[0]! / r[1]!));
      const cells = [0, 1, 2, 3, 4, 5].map((i) => col5(i).toFixed(0)).join(' | ');
      log(`| ${output} ${z}/${row}/${col} | ${counted} | ${tileRunsPerSeed.join(',')} / ${replayRunsPerSeed.join(',')} | ${cells} | ${ratio.toFixed(3)} | ${col5(6).toFixed(0)} / ${col5(7).toFixed(0)} | ${col5(8).toFixed(2)} |`);
      cpuRatios.push(col5(8));
    }
  }
  log('(medians over the seeds, ONNX runs of every seed; model = the captured generate() requests replayed concurrently in this');
  log(' process after the tile, outputs checked identical; before/after = wall time before the first and after the last chip generation;');
  log(' CPU = process user + system time, all threads (ONNX Runtime pools included): less sensitive to other load than wall time)');

  return { ratios, cpuRatios, hitPath };
}

/** 2. Cache hits of a generated tile beside a static server answering the same bytes. */
async function cacheHits(app: TestApp, hitPath: string) {
  // The last tile of section 1 (DEM, zoom 16), now cached.
  const hitUrl = `${app.url}${hitPath}`;
  const hit = await getTile(app, hitUrl);
  if (hit.cache !== 'hit') throw new Error(`generated tile did not become a cache hit (${hit.cache})`);
  const staticServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': hit.body.byteLength, etag: hit.etag, 'cache-control': 'public, max-age=3600' });
    res.end(hit.body);
  });
  await new Promise<void>((resolve) => staticServer.listen(0, '127.0.0.1', resolve));
  const staticUrl = `http://127.0.0.1:${(staticServer.address() as AddressInfo).port}/tile.png`;
  const agent = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
  log('');
  log(`## 2. cache-hit generated tile (${hitPath.split('?')[0]}, ${hit.body.byteLength} bytes PNG; load ${load()})`);
  log('| server | concurrency | requests | req/s | p50 ms | p99 ms |');
  log('|---|---|---|---|---|---|');
  const hitRatios: string[] = [];
  for (const [concurrency, total] of [[1, HITS], [32, 4 * HITS]] as const) {
    await loadTest(staticUrl, 200, concurrency, agent);
    await loadTest(hitUrl, 200, concurrency, agent);
    const plain = await loadTest(staticUrl, total, concurrency, agent);
    const service = await loadTest(hitUrl, total, concurrency, agent);
    log(`| node:http static | ${concurrency} | ${total} | ${plain.rps.toFixed(0)} | ${plain.p50.toFixed(2)} | ${plain.p99.toFixed(2)} |`);
    log(`| terramind-ogc generated, cache hit | ${concurrency} | ${total} | ${service.rps.toFixed(0)} | ${service.p50.toFixed(2)} | ${service.p99.toFixed(2)} |`);
    hitRatios.push(`c${concurrency} ${service.rps.toFixed(0)} req/s = ${(service.rps / plain.rps).toFixed(2)}x static`);
  }
  log(`service/static: ${hitRatios.join(', ')}`);
  staticServer.close();
  await agent.close();

  return hitRatios;
}

/** 3. A burst of one map view, batcher on and off, each in a fresh child process. */
async function bursts(inputsUrl: string) {
  log('');
  log(`## 3. burst: 20 DEM tiles (5x4 at zoom 16 over the mosaic centre), concurrency 8, each config in a fresh process (this one idles; load ${load()})`);
  log('| BATCH_MAX_SIZE | chip concurrency | seconds | tiles/s | tile p50 / max ms | chips (engine / model calls) | minimum chips | ONNX runs | rows per run (mean / max) | /health p50 / max ms | RSS before / peak during burst | VmHWM |');
  log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const results = [];
  for (const batch of BURST_BATCH) {
    const b = await runBurstChild(batch, inputsUrl);
    results.push(b);
    log(
      `| ${b.batch} | ${b.concurrency} | ${b.seconds.toFixed(1)} | ${b.tilesPerSecond.toFixed(2)} | ${b.p50.toFixed(0)} / ${b.max.toFixed(0)} | ${b.generated} / ${b.modelCalls} | ${b.minimum} | ` +
        `${b.runs} | ${(b.rows / b.runs).toFixed(2)} / ${b.maxRows} | ${b.healthP50.toFixed(1)} / ${b.healthMax.toFixed(0)} | ${mib(b.rssBefore)} / ${mib(b.peakRss)} | ${mib(b.hwm)} |`,
    );
  }
  log('(chip concurrency: GENERATION_CONCURRENCY, whose default 0 follows BATCH_MAX_SIZE; chips: engine = stats().generated, which counts');
  log(' a chip once per tile read that obtained it, single-flight waiters included; model calls = runtime generate() calls = chips generated)');

  return results;
}

/** 4. Bytes of the encoded chips the engine put in the cache store, per output. */
async function chipBytes({ app, inputsUrl, chipKeys }: Bench) {
  const store = app.ctx.cache.store;
  log('');
  log(`## 4. bytes per cached chip (int16 + deflate, the chips of one zoom-14 tile at the mosaic centre, seed 0; load ${load()})`);
  log('| output | from | chips | partly masked | min bytes | median bytes | max bytes | int16 + mask before deflate | raw float32 bytes | raw/median |');
  log('|---|---|---|---|---|---|---|---|---|---|');
  const medians: string[] = [];
  const [zr, zc] = slippyTile(...MOSAIC_CENTRE, 14);
  for (const output of ['S2L2A', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI'] as Modality[]) {
    // S2L2A named as a source is the source itself: generate it from the S1RTC mosaic instead.
    const from = output === 'S2L2A' ? 'S1RTC' : 'S2L2A';
    chipKeys.length = 0;
    await getTile(app, `/collections/${output}/map/tiles/WebMercatorQuad/14/${zr}/${zc}?${tileQuery({ [from]: `${inputsUrl}/${from}.tif` })}`);
    const sizes: number[] = [];
    let partial = 0;
    let planes = 0;
    for (const key of chipKeys) {
      const object = await store.get(key);
      if (!object) throw new Error(`chip ${key} is not in the store`);
      sizes.push(object.body.byteLength);
      const chip = decodeChip(object.body);
      planes = chip.bands.length;
      if (chip.mask.includes(0)) partial += 1;
    }
    sizes.sort((a, b) => a - b);
    const raw = planes * 224 * 224 * 4;
    medians.push(`${output} ${median(sizes)}`);
    const int16 = planes * 224 * 224 * 2 + 224 * 224;
    log(`| ${output} | ${from} | ${sizes.length} | ${partial} | ${sizes[0]} | ${median(sizes)} | ${sizes.at(-1)} | ${int16} | ${raw} (${planes} planes) | ${(raw / median(sizes)).toFixed(1)} |`);
  }
  return medians;
}

async function main() {
  const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
  log(`# generation benchmark (${new Date().toISOString()}, node ${process.version}, loopback, sections ${[...SECTIONS].join(',')})`);
  log(`load at start: ${uptime()}`);
  const dir = await mkdtemp(join(tmpdir(), 'tmogc-bench-mosaic-'));
  await buildMosaicInputs(dir);
  const inputs = await startFixtureServer(dir);
  let runs = 0;
  const app = await startTestApp({ model: true, allowHosts: [new URL(inputs.url).host], env: SERVICE_TIMEOUTS, onRun: () => (runs += 1) });
  const t0 = performance.now();
  await app.ctx.model!.warmUp();
  const { calls, original } = instrument(app);
  const engine = app.ctx.engine!;
  const chipKeys: string[] = [];
  const store = app.ctx.cache.store;
  const put = store.put.bind(store);
  store.put = (key, object) => {
    // Chip objects, not their leases (`<chip key>.lease`).
    if (key.startsWith('chip/') && !key.endsWith('.lease') && !chipKeys.includes(key)) chipKeys.push(key);
    return put(key, object);
  };
  const bench: Bench = { app, inputsUrl: inputs.url, calls, original, onnxRuns: () => runs, chipKeys };
  const defaults = app.ctx.model!.manifest.defaults;
  log(`model: ${engine.model.name} ${engine.model.version} (${engine.model.weights} weights), warm-up ${(performance.now() - t0).toFixed(0)} ms; ` +
    `${defaults.timesteps} diffusion steps; BATCH_MAX_SIZE ${app.ctx.config.BATCH_MAX_SIZE}, BATCH_MAX_WAIT_MS ${app.ctx.config.BATCH_MAX_WAIT_MS}`);
  // Open the sources once (the header reads every later plan shares through the opener's caches).
  await getTile(app, `/collections/DEM/map/tiles/WebMercatorQuad/16/${slippyTile(...MOSAIC_CENTRE, 16).join('/')}?${tileQuery({ S2L2A: `${inputs.url}/S2L2A.tif` }, { seed: 999 })}`);

  const summary: string[] = [];
  if (SECTIONS.has(1)) {
    const { ratios, cpuRatios, hitPath } = await cacheMisses(bench);
    summary.push(`miss wall/model median ${median(ratios).toFixed(3)} (goal <= 1.05), CPU tile/model median ${median(cpuRatios).toFixed(2)}`);
    if (SECTIONS.has(2)) summary.push(`hit ${(await cacheHits(app, hitPath)).join(', ')}`);
  }
  if (SECTIONS.has(3)) {
    const results = await bursts(inputs.url);
    summary.push(`burst ${results.map((b) => `batch ${b.batch}: ${b.tilesPerSecond.toFixed(2)} tiles/s, ${b.modelCalls}/${b.minimum} chips, ${b.runs} runs, /health max ${b.healthMax.toFixed(0)} ms`).join('; ')}`);
  }
  if (SECTIONS.has(4)) summary.push(`median bytes/chip ${(await chipBytes(bench)).join(', ')}`);
  await app.close();
  await inputs.close();
  await rm(dir, { recursive: true, force: true });
  log('');
  log(`load at end: ${uptime()}`);
  log(`summary: ${summary.join('; ')}`);
}

const burstAt = process.argv.indexOf('--burst');
(burstAt >= 0 ? burstChild(Number(process.argv[burstAt + 1]), process.argv[burstAt + 2]!) : main()).catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
