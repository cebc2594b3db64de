import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatcher, type Feeds } from '../src/model/batcher.js';
import { loadPackage, type ModelPackage } from '../src/model/manifest.js';
import { Rng } from '../src/model/rng.js';
import { ModelSessions } from '../src/model/sessions.js';

/**
 * ModelSessions runs the package's ONNX sessions in a worker thread (src/model/session-host.ts,
 * session-worker.mjs), on the real onnxruntime-node and the committed random package.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = join(ROOT, 'models/terramind-test-random');
const THREADS = 2;
const run = promisify(execFile);

let pkg: ModelPackage;
let sessions: ModelSessions;

beforeAll(() => {
  pkg = loadPackage(MODEL_DIR);
  sessions = new ModelSessions(pkg, { executionProviders: ['cpu'], intraOpThreads: THREADS, interOpThreads: 0 });
});
afterAll(() => sessions?.close());

const rng = new Rng(11);
const f32 = (dims: number[], fill: () => number = () => rng.normal()) => ({
  type: 'float32' as const,
  data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, fill),
  dims,
});
const i64 = (values: number[], dims: number[]) => ({ type: 'int64' as const, data: BigInt64Array.from(values, BigInt), dims });
/** UNet_DEM inputs for `rows` chips: x [B,1,224,224], t [B], code [B,5,14,14]. */
const unetFeeds = (rows: number, t = 999): Feeds => ({
  x: f32([rows, 1, 224, 224]),
  t: i64(new Array(rows).fill(t), [rows]),
  code: f32([rows, 5, 14, 14], () => rng.uniform()),
});
const copyFeeds = (feeds: Feeds): Feeds =>
  Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, { ...t, data: t.data.slice(), dims: [...t.dims] }]));
const bytesOf = (t: { data: ArrayBufferView }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** The same run on an onnxruntime-node session in this thread, with the options ModelSessions uses. */
async function inProcess(file: string, feeds: Feeds): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(pkg.path(file), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: THREADS,
  });
  try {
    const tensors = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
    return await session.run(tensors);
  } finally {
    await session.release();
  }
}

const threadCount = () => readdirSync('/proc/self/task').length;

describe('ONNX sessions in a worker thread', { timeout: 180_000 }, () => {
  it('keeps the event loop responsive while long runs execute', async () => {
    // 64 stacked UNet rows take about a second on two loaded cores. In this thread each run froze the event loop
    // for all of it: a zero-delay timer fired at most once per run and waited a whole run. Spikes of a few hundred
    // ms still happen on a loaded machine (other processes), so the bounds are on counts and the median.
    const feeds = unetFeeds(64);
    await sessions.run('unet_DEM.onnx', feeds); // session creation and first-run allocations out of the way
    let running = true;
    const ticks: { at: number; lag: number }[] = [];
    const probe = (async () => {
      while (running) {
        const t0 = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 0));
        ticks.push({ at: performance.now(), lag: performance.now() - t0 });
      }
    })();
    const runs: { start: number; end: number }[] = [];
    for (let i = 0; i < 3; i += 1) {
      const start = performance.now();
      await sessions.run('unet_DEM.onnx', feeds);
      runs.push({ start, end: performance.now() });
    }
    running = false;
    await probe;
    const shortest = Math.min(...runs.map((r) => r.end - r.start));
    const lags = ticks.map((t) => t.lag).sort((a, b) => a - b);
    const median = lags[Math.floor(lags.length / 2)]!;
    for (const r of runs) expect(ticks.filter((t) => t.at > r.start && t.at < r.end).length).toBeGreaterThanOrEqual(10);
    expect(median).toBeLessThan(shortest / 10);
  });

  it('gives the bytes an in-process session gives, copying or taking the inputs as asked', async () => {
    const cases: [string, Feeds][] = [
      ['unet_DEM.onnx', unetFeeds(3, 499)],
      ['encoder.onnx', { tokens: f32([2, 196, 32]), emb: f32([2, 196, 32]) }],
      ['decoder_LULC.onnx', { code: f32([2, 5, 14, 14], () => rng.uniform()) }],
    ];
    for (const [file, feeds] of cases) {
      const expected = await inProcess(file, feeds);
      const before = copyFeeds(feeds);
      const copied = await sessions.run(file, feeds);
      // Without transferInputs the caller's arrays are untouched.
      for (const [name, t] of Object.entries(feeds)) expect(bytesOf(t).equals(bytesOf(before[name]!))).toBe(true);
      const taken = copyFeeds(feeds);
      const moved = await sessions.run(file, taken, { transferInputs: true });
      // With it they moved to the worker: detached here.
      for (const t of Object.values(taken)) expect(t.data.byteLength).toBe(0);
      expect(Object.keys(copied).sort()).toEqual(Object.keys(expected).sort());
      for (const [name, tensor] of Object.entries(expected)) {
        expect(copied[name]!.type).toBe(tensor.type);
        expect(copied[name]!.dims).toEqual([...tensor.dims]);
        expect(bytesOf(copied[name]!).equals(bytesOf(tensor as ort.Tensor & { data: Float32Array }))).toBe(true);
        expect(bytesOf(moved[name]!).equals(bytesOf(copied[name]!))).toBe(true);
      }
    }
  });

  it('rejects only the run at fault, with the part and onnxruntime reason, and counts the others', async () => {
    const runsBefore = sessions.runs;
    const wrong = unetFeeds(1);
    wrong.x = f32([1, 2, 224, 224]); // DEM has one band
    const [bad, good] = await Promise.allSettled([sessions.run('unet_DEM.onnx', wrong), sessions.run('unet_DEM.onnx', unetFeeds(1))]);
    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason.message).toMatch(/^unet_DEM\.onnx: Got invalid dimensions for input: x .*\n index: 1 Got: 2 Expected: 1/s);
    expect(good.status).toBe('fulfilled');
    expect((good as PromiseFulfilledResult<Feeds>).value.x0!.dims).toEqual([1, 1, 224, 224]);
    expect(sessions.runs).toBe(runsBefore + 1);
    expect(sessions.providers.get('unet_DEM.onnx')).toBe('cpu');
    expect(sessions.createMs.get('unet_DEM.onnx')).toBeGreaterThan(0);
  });

  it('through the batcher: a failed stacked run reruns each caller alone on its own intact inputs', async () => {
    const calls: { rows: number; stacked: boolean }[] = [];
    const batcher = createBatcher({
      maxSize: 8,
      maxWaitMs: 5_000,
      run: (part, feeds, stacked) => {
        calls.push({ rows: feeds.ids!.dims[0]!, stacked });
        return sessions.run(part, feeds, { transferInputs: stacked });
      },
    });
    const ids = (value: number) => i64(new Array(196).fill(value), [1, 196]);
    const good = ids(3);
    const outOfVocab = ids(3);
    outOfVocab.data[7] = 999_999n; // LULC's vocabulary has 270 ids: the embedding's Gather refuses it
    const pending = [batcher.run('embed_LULC.onnx', { ids: good }), batcher.run('embed_LULC.onnx', { ids: outOfVocab })];
    batcher.flush();
    const [ok, failed] = await Promise.allSettled(pending);
    expect(calls).toEqual([
      { rows: 2, stacked: true },
      { rows: 1, stacked: false },
      { rows: 1, stacked: false },
    ]);
    expect(failed.status).toBe('rejected');
    expect((failed as PromiseRejectedResult).reason.message).toMatch(/^embed_LULC\.onnx: .*Gather.*idx=999999 must be within the inclusive range \[-270,269\]/);
    expect(ok.status).toBe('fulfilled');
    expect(good.data.byteLength).toBe(196 * 8); // the stacked copy moved, the caller's own array did not
    const alone = await inProcess('embed_LULC.onnx', { ids: ids(3) });
    const out = (ok as PromiseFulfilledResult<Feeds>).value;
    for (const name of ['tokens', 'emb']) expect(bytesOf(out[name]!).equals(bytesOf(alone[name] as ort.Tensor & { data: Float32Array }))).toBe(true);
  });

  it('close() releases the sessions and ends the worker thread; a later run starts a fresh one', async () => {
    const own = new ModelSessions(pkg, { executionProviders: ['cpu'], intraOpThreads: THREADS, interOpThreads: 0 });
    await own.run('unet_DEM.onnx', unetFeeds(1));
    await own.run('decoder_LULC.onnx', { code: f32([1, 5, 14, 14], () => rng.uniform()) });
    const open = threadCount();
    await own.close();
    // The worker thread and each session's intra-op pool thread (THREADS - 1 besides the calling one) are gone.
    expect(open - threadCount()).toBeGreaterThanOrEqual(1 + 2 * (THREADS - 1));
    const again = await own.run('unet_DEM.onnx', unetFeeds(1));
    expect(again.x0!.dims).toEqual([1, 1, 224, 224]);
    expect(own.runs).toBe(3);
    await own.close();
  });

  it('lets the process exit after its last run without close(), and not before that run ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'session-worker-'));
    try {
      const script = join(dir, 'exit.ts');
      const src = (path: string) => JSON.stringify(pathToFileURL(join(ROOT, path)).href);
      writeFileSync(
        script,
        [
          `import { loadPackage } from ${src('src/model/manifest.ts')};`,
          `import { ModelSessions } from ${src('src/model/sessions.ts')};`,
          `const sessions = new ModelSessions(loadPackage(${JSON.stringify(MODEL_DIR)}), { executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 0 });`,
          `const code = { type: 'float32', data: new Float32Array(5 * 196).fill(0.5), dims: [1, 5, 14, 14] };`,
          // Not awaited, never closed: only the outstanding run keeps the process alive.
          `void sessions.run('decoder_LULC.onnx', { code }).then((out) => console.log('logits', out.logits.dims.join('x')));`,
        ].join('\n'),
      );
      const { stdout } = await run(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, timeout: 60_000 });
      expect(stdout.trim()).toBe('logits 1x10x224x224');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
