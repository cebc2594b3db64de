/**
 * Worker-thread benchmark (`npx tsx test/bench/session-worker.bench.ts`): what the hop to the sessions' worker
 * thread (src/model/session-host.ts) costs per run. The same runs of the committed package go to an
 * onnxruntime-node session in this thread and through ModelSessions, with the inputs copied (a lone caller) and
 * transferred (the batcher's stacked feeds); medians over 6 blocks per variant, the block order rotated. Blocks, not
 * run-by-run interleaving: each session's intra-op pool spins for a while after its run and slows another
 * session's next run on a small machine.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { Feeds } from '../../src/model/batcher.js';
import { loadPackage } from '../../src/model/manifest.js';
import { Rng } from '../../src/model/rng.js';
import { ModelSessions } from '../../src/model/sessions.js';

const BLOCKS = 6;
const rng = new Rng(1);
const pkg = loadPackage(fileURLToPath(new URL('../../models/terramind-test-random', import.meta.url)));
const sessions = new ModelSessions(pkg, { executionProviders: ['cpu'], intraOpThreads: 0, interOpThreads: 0 });
const f32 = (dims: number[]) => ({ type: 'float32' as const, data: new Float32Array(dims.reduce((a, b) => a * b)).map(() => rng.normal()), dims });
const cases: [string, Feeds, number][] = [
  ['head_DEM.onnx', { hidden: f32([1, 196, 32]) }, 200],
  ['unet_DEM.onnx', { x: f32([8, 1, 224, 224]), t: { type: 'int64', data: new BigInt64Array(8).fill(999n), dims: [8] }, code: f32([8, 5, 14, 14]) }, 20],
  ['embed_S2L2A.onnx', { pixels: f32([8, 12, 224, 224]) }, 20],
];
console.log(`session worker hop, committed package, ORT default threads; load ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const [file, feeds, n] of cases) {
  const direct = await ort.InferenceSession.create(pkg.path(file), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const tensors = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type, t.data, t.dims)]));
  const own = () => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { ...v, data: v.data.slice() }])) as Feeds;
  // Each variant prepares outside the timed part (the transferred one gets its own copy to give away) and runs.
  const variants: Record<string, () => () => Promise<unknown>> = {
    'in-process': () => () => direct.run(tensors),
    'worker, inputs copied': () => () => sessions.run(file, feeds),
    'worker, inputs transferred': () => {
      const mine = own();
      return () => sessions.run(file, mine, { transferInputs: true });
    },
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const names = Object.keys(variants);
  for (let block = 0; block < BLOCKS; block += 1) {
    for (const name of [...names.slice(block % 3), ...names.slice(0, block % 3)]) {
      await variants[name]!()();
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (let i = 0; i < n; i += 1) {
        const run = variants[name]!();
        const t0 = performance.now();
        await run();
        times[name]!.push(performance.now() - t0);
      }
    }
  }
  const bytes = Object.values(feeds).reduce((sum, t) => sum + t.data.byteLength, 0);
  console.log(`${file} (inputs ${(bytes / 2 ** 20).toFixed(2)} MiB, ${BLOCKS * n} runs each): ${names.map((k) => `${k} ${med(times[k]!).toFixed(2)} ms`).join(', ')}`);
  await direct.release();
}
await sessions.close();
console.log(`load at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
