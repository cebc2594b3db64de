import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Feeds } from '../src/model/batcher.js';
import { codesFor, diffusionDecode, type ModelContext } from '../src/model/generate.js';
import { loadPackage } from '../src/model/manifest.js';
import { Rng } from '../src/model/rng.js';
import { ddimSteps, ddimUpdate, predictionOf } from '../src/model/schedule.js';
import { ModelSessions } from '../src/model/sessions.js';

/**
 * The DDIM step of IBM's DDIMScheduler.step (terramind-reference.md §3.3, corrected in issue 6), pinned by hand:
 *   eps    = (x_t - sqrt(abar_t) * x0_raw) / sqrt(1 - abar_t)      (raw, unclamped UNet output)
 *   x_prev = sqrt(abar_prev) * clamp(x0_raw, -1, 1) + sqrt(1 - abar_prev) * eps
 * The old loop took eps from the clamped x0; where the UNet output leaves [-1, 1] the two differ, and this file
 * shows the expectations of both so that a regression to the old formula fails here.
 */

// Two train timesteps, no zero-SNR rescale: betas = linspace(0.36, 0.4375, 2) = [0.36, 0.4375], so
//   abar[0] = 1 - 0.36 = 0.64                   sqrt = 0.8, sqrt(1 - 0.64) = 0.6
//   abar[1] = 0.64 * (1 - 0.4375) = 0.36        sqrt = 0.6, sqrt(1 - 0.36) = 0.8
// Two DDIM steps with trailing spacing: ratio 2 // 2 = 1, timesteps [1, 0]; the first step goes t=1 -> prev t=0.
const TINY = { numTrainTimesteps: 2, betaStart: 0.36, betaEnd: 0.4375, zeroTerminalSnr: false, clipSample: 1 };

describe('one DDIM step, computed by hand', () => {
  const step = ddimSteps(TINY, 2)[0]!;
  // x_t and a UNet output of which two values leave [-1, 1] (1.5 and -2.5) and one stays inside (0.25)
  const xt = new Float32Array([0.5, -1, 2]);
  const raw = new Float32Array([1.5, -2.5, 0.25]);

  it('uses the tiny schedule the arithmetic below assumes', () => {
    expect(step.t).toBe(1);
    expect(step.alphaBar).toBeCloseTo(0.36, 12);
    expect(step.alphaBarPrev).toBeCloseTo(0.64, 12);
  });

  // With sqrt(abar_t) = 0.6, sqrt(1 - abar_t) = 0.8, sqrt(abar_prev) = 0.8, sqrt(1 - abar_prev) = 0.6:
  //   pixel 0: eps = (0.5 - 0.6 * 1.5) / 0.8    = -0.4 / 0.8  = -0.5      x_prev = 0.8 * 1    + 0.6 * -0.5   =  0.5
  //   pixel 1: eps = (-1 - 0.6 * -2.5) / 0.8   =  0.5 / 0.8  =  0.625    x_prev = 0.8 * -1   + 0.6 * 0.625  = -0.425
  //   pixel 2: eps = (2 - 0.6 * 0.25) / 0.8    = 1.85 / 0.8  =  2.3125   x_prev = 0.8 * 0.25 + 0.6 * 2.3125 =  1.5875
  const expected = [0.5, -0.425, 1.5875];
  // The old formula, eps from the clamped x0 (clamp(raw) = [1, -1, 0.25]):
  //   pixel 0: eps = (0.5 - 0.6 * 1) / 0.8  = -0.125    x_prev = 0.8 * 1  + 0.6 * -0.125 =  0.725
  //   pixel 1: eps = (-1 - 0.6 * -1) / 0.8  = -0.5      x_prev = 0.8 * -1 + 0.6 * -0.5   = -1.1
  //   pixel 2: inside [-1, 1], the same 1.5875 as above
  const oldFormula = [0.725, -1.1, 1.5875];

  it('derives eps from the raw prediction and moves with the clamped one', () => {
    const x0 = predictionOf(raw, TINY.clipSample);
    expect([...x0.clamped]).toEqual([1, -1, 0.25]);
    expect([...x0.raw]).toEqual([1.5, -2.5, 0.25]); // the raw output is left as it is
    const xPrev = ddimUpdate(xt, x0, step);
    expected.forEach((v, i) => expect(xPrev[i]).toBeCloseTo(v, 6));
  });

  it('tells the two formulas apart where the prediction leaves [-1, 1]', () => {
    const xPrev = ddimUpdate(xt, predictionOf(raw, TINY.clipSample), step);
    expect(Math.abs(xPrev[0]! - oldFormula[0]!)).toBeCloseTo(0.225, 6);
    expect(Math.abs(xPrev[1]! - oldFormula[1]!)).toBeCloseTo(0.675, 6);
    expect(xPrev[2]).toBeCloseTo(oldFormula[2]!, 6);
    // what the old loop computed: both x0 forms clamped
    const clamped = predictionOf(raw, TINY.clipSample).clamped;
    const old = ddimUpdate(xt, { raw: clamped, clamped }, step);
    oldFormula.forEach((v, i) => expect(old[i]).toBeCloseTo(v, 6));
  });

  it('refuses predictions of another size than x', () => {
    expect(() => ddimUpdate(xt, predictionOf(new Float32Array(2), 1), step)).toThrow(RangeError);
    // Either prediction alone of the wrong size is refused, and the message gives all three sizes.
    expect(() => ddimUpdate(xt, { raw: new Float32Array(2), clamped: new Float32Array(3) }, step)).toThrow('ddimUpdate: x has 3 values, x0.raw 2, x0.clamped 3');
    expect(() => ddimUpdate(xt, { raw: new Float32Array(3), clamped: new Float32Array(2) }, step)).toThrow('ddimUpdate: x has 3 values, x0.raw 3, x0.clamped 2');
  });
});

describe('diffusionDecode wires raw and clamped x0 into each step (committed random package)', { timeout: 60_000 }, () => {
  const MODEL_DIR = fileURLToPath(new URL('../models/terramind-test-random', import.meta.url));
  const pkg = loadPackage(MODEL_DIR);
  let sessions: ModelSessions;
  /** Every UNet call's input x and output x0 (the real session's tensors, recorded on their way through). */
  const calls: { x: Float32Array; x0: Float32Array }[] = [];
  let result: Float32Array;

  beforeAll(async () => {
    sessions = new ModelSessions(pkg, { executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 0 });
    const ctx: ModelContext = {
      pkg,
      run: async (part: string, feeds: Feeds) => {
        const out = await sessions.run(part, feeds);
        calls.push({ x: Float32Array.from(feeds.x!.data as Float32Array), x0: Float32Array.from(out.x0!.data as Float32Array) });
        return out;
      },
    };
    const rng = new Rng(61);
    const ids = Int32Array.from({ length: 196 }, () => rng.nextUint32() % pkg.manifest.modalities.DEM!.output!.vocabSize);
    // T=4: steps t = 999, 749, 499, 249
    result = await diffusionDecode(ctx, 'DEM', codesFor(pkg, 'DEM', ids, 1), rng.normalArray(224 * 224), 1, 4);
  });
  afterAll(() => sessions?.close());

  it('feeds each UNet call the update of the previous call by the corrected formula', () => {
    const steps = ddimSteps(pkg.manifest.diffusion, 4);
    expect(calls.length).toBe(4);
    let outside = 0;
    for (let k = 1; k < steps.length; k += 1) {
      const { alphaBar: a, alphaBarPrev: p } = steps[k - 1]!;
      const { x, x0 } = calls[k - 1]!;
      const next = calls[k]!.x;
      let worstNew = 0;
      let worstOld = 0;
      for (let i = 0; i < x.length; i += 1) {
        const clamped = Math.min(1, Math.max(-1, x0[i]!));
        if (clamped !== x0[i]) outside += 1;
        const byNew = Math.sqrt(p) * clamped + Math.sqrt(1 - p) * ((x[i]! - Math.sqrt(a) * x0[i]!) / Math.sqrt(1 - a));
        const byOld = Math.sqrt(p) * clamped + Math.sqrt(1 - p) * ((x[i]! - Math.sqrt(a) * clamped) / Math.sqrt(1 - a));
        worstNew = Math.max(worstNew, Math.abs(next[i]! - byNew));
        worstOld = Math.max(worstOld, Math.abs(next[i]! - byOld));
      }
      expect(worstNew).toBeLessThan(1e-5);
      // from the second step on (abar_t > 0) the old formula gives another x wherever the prediction left [-1, 1]
      if (k > 1) expect(worstOld).toBeGreaterThan(1e-2);
    }
    expect(outside).toBeGreaterThan(0); // the random UNet does leave [-1, 1], so the check above means something
    // the result is the clamped x0 of the last call
    const last = calls.at(-1)!.x0;
    expect([...result]).toEqual([...Float32Array.from(last, (v) => Math.min(1, Math.max(-1, v)))]);
  });
});
