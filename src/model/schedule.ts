/**
 * The DDIM schedule of the DiVAE decoders (terramind-reference.md §3.3): linear betas, zero-terminal-SNR
 * rescale, "trailing" timesteps, prev-alpha 1 past the end, x0 clamped to [-1, 1] (what dynamic thresholding
 * with sample_max_value=1 reduces to) while the noise estimate uses the unclamped x0. Computed in float64; the
 * reference's float32 differs by ~1e-7.
 */
export interface DiffusionConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  zeroTerminalSnr: boolean;
  clipSample: number;
}

/** alphas_cumprod[t] for t = 0..numTrainTimesteps-1. */
export function alphasCumprod(config: DiffusionConfig): Float64Array {
  const n = config.numTrainTimesteps;
  let betas: Float64Array = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    betas[i] = n === 1 ? config.betaStart : config.betaStart + ((config.betaEnd - config.betaStart) * i) / (n - 1);
  }
  if (config.zeroTerminalSnr) betas = rescaleZeroTerminalSnr(betas);
  const out = new Float64Array(n);
  let product = 1;
  for (let i = 0; i < n; i += 1) {
    product *= 1 - betas[i]!;
    out[i] = product;
  }
  return out;
}

/** Shifts and scales sqrt(alpha_bar) so that the last step has alpha_bar = 0 (pure noise) and the first is kept. */
function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const n = betas.length;
  const sqrtBar = new Float64Array(n);
  let product = 1;
  for (let i = 0; i < n; i += 1) {
    product *= 1 - betas[i]!;
    sqrtBar[i] = Math.sqrt(product);
  }
  const first = sqrtBar[0]!;
  const last = sqrtBar[n - 1]!;
  for (let i = 0; i < n; i += 1) sqrtBar[i] = ((sqrtBar[i]! - last) * first) / (first - last);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    const bar = sqrtBar[i]! ** 2;
    const prevBar = i === 0 ? 1 : sqrtBar[i - 1]! ** 2;
    out[i] = 1 - bar / prevBar;
  }
  return out;
}

/** Trailing spacing: arange(N, 0, -N//T) - 1, e.g. T=10 -> 999, 899, ..., 99. */
export function trailingTimesteps(steps: number, numTrainTimesteps = 1000): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw new RangeError(`timesteps must be an integer in [1, ${numTrainTimesteps}], got ${steps}`);
  }
  const ratio = Math.floor(numTrainTimesteps / steps);
  const out: number[] = [];
  for (let t = numTrainTimesteps; t > 0; t -= ratio) out.push(t - 1);
  return out;
}

export interface DdimStep {
  t: number;
  alphaBar: number;
  alphaBarPrev: number;
}

/** The per-step alphas of a T-step DDIM run; prev alpha is 1 when the previous timestep is below 0. */
export function ddimSteps(config: DiffusionConfig, steps: number): DdimStep[] {
  const table = alphasCumprod(config);
  const ratio = Math.floor(config.numTrainTimesteps / steps);
  return trailingTimesteps(steps, config.numTrainTimesteps).map((t) => {
    const prev = t - ratio;
    return { t, alphaBar: table[t]!, alphaBarPrev: prev >= 0 ? table[prev]! : 1 };
  });
}

/** Clamps x0 in place to [-limit, limit]. */
export function clampInPlace(x: Float32Array, limit: number): Float32Array {
  for (let i = 0; i < x.length; i += 1) {
    const v = x[i]!;
    x[i] = v > limit ? limit : v < -limit ? -limit : v;
  }
  return x;
}

/**
 * One UNet x0 prediction in both forms a DDIM step needs: the raw output (the noise estimate comes from it) and its
 * clamp to [-clip, clip] (the only x0 that enters x_prev, and the loop's result). Keeping them together under
 * names is the point: deriving eps from the clamped value is the mistake fixed in issue 6.
 */
export interface X0Prediction {
  readonly raw: Float32Array;
  readonly clamped: Float32Array;
}

/** Pairs a raw UNet output with its clamped copy; `raw` is kept as it is. */
export function predictionOf(raw: Float32Array, clip: number): X0Prediction {
  return { raw, clamped: clampInPlace(Float32Array.from(raw), clip) };
}

/**
 * One deterministic DDIM update (eta = 0) with prediction_type "sample", as IBM's DDIMScheduler.step with
 * thresholding and use_clipped_model_output=False (terramind-reference.md §3.3):
 *   eps    = (x_t - sqrt(a) * x0.raw) / sqrt(1 - a)         from the unclamped prediction
 *   x_prev = sqrt(a_prev) * x0.clamped + sqrt(1 - a_prev) * eps
 */
export function ddimUpdate(x: Float32Array, x0: X0Prediction, step: DdimStep): Float32Array {
  const { raw, clamped } = x0;
  if (raw.length !== x.length || clamped.length !== x.length) {
    throw new RangeError(`ddimUpdate: x has ${x.length} values, x0.raw ${raw.length}, x0.clamped ${clamped.length}`);
  }
  const sa = Math.sqrt(step.alphaBar);
  const s1a = Math.sqrt(1 - step.alphaBar);
  const sp = Math.sqrt(step.alphaBarPrev);
  const s1p = Math.sqrt(1 - step.alphaBarPrev);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += 1) {
    const eps = (x[i]! - sa * raw[i]!) / s1a;
    out[i] = sp * clamped[i]! + s1p * eps;
  }
  return out;
}
