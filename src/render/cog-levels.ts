/**
 * The pixel side of the COG writer: the overview pyramid (each level half the previous, until one tile holds
 * the whole level, as GDAL's COG driver does) and the bytes of one tile before compression, with the TIFF
 * predictor applied (2 = horizontal differencing for integers, 3 = floating point: per row, the bytes of all
 * samples regrouped most significant first, then differenced, which is what makes float rasters compress).
 */
export type CogSampleType = 'float32' | 'uint8';
/** average: mean of the valid pixels (continuous values); mode: most frequent valid value (class maps). */
export type OverviewResampling = 'average' | 'mode' | 'nearest';

export interface Level {
  width: number;
  height: number;
  /** One array per band, row-major. */
  bands: Float32Array[];
  /** 0 = no data. */
  mask: Uint8Array;
}

/** The base level and its overviews, largest first, ending with the first level that fits in one tile. */
export function pyramid(base: Level, blockSize: number, resampling: OverviewResampling): Level[] {
  const levels = [base];
  let last = base;
  while (last.width > blockSize || last.height > blockSize) {
    last = downsample(last, resampling);
    levels.push(last);
  }
  return levels;
}

/** Halves a level (odd sides round up); output pixels with no valid source pixel are masked. */
export function downsample(level: Level, resampling: OverviewResampling): Level {
  const width = Math.ceil(level.width / 2);
  const height = Math.ceil(level.height / 2);
  const bands = level.bands.map(() => new Float32Array(width * height));
  const mask = new Uint8Array(width * height);
  const sources = new Int32Array(4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let count = 0;
      for (let dy = 0; dy < 2; dy++) {
        const sy = 2 * y + dy;
        if (sy >= level.height) continue;
        for (let dx = 0; dx < 2; dx++) {
          const sx = 2 * x + dx;
          if (sx >= level.width) continue;
          const p = sy * level.width + sx;
          if (level.mask[p] !== 0) sources[count++] = p;
        }
      }
      if (count === 0) continue;
      const out = y * width + x;
      mask[out] = 255;
      for (let b = 0; b < bands.length; b++) bands[b][out] = combine(level.bands[b], sources, count, resampling);
    }
  }
  return { width, height, bands, mask };
}

function combine(band: Float32Array, sources: Int32Array, count: number, resampling: OverviewResampling): number {
  if (resampling === 'nearest') return band[sources[0]];
  if (resampling === 'average') {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += band[sources[i]];
    return sum / count;
  }
  // Mode of at most four values; ties go to the first seen (top-left first), like a nearest pick.
  let best = band[sources[0]];
  let bestCount = 0;
  for (let i = 0; i < count; i++) {
    let n = 0;
    for (let j = 0; j < count; j++) if (band[sources[j]] === band[sources[i]]) n++;
    if (n > bestCount) {
      bestCount = n;
      best = band[sources[i]];
    }
  }
  return best;
}

/**
 * The uncompressed bytes of tile (tx, ty): pixel-interleaved samples, full blockSize x blockSize (edge tiles
 * are padded), masked pixels and padding set to `nodata`, predictor applied.
 */
export function tileBytes(level: Level, tx: number, ty: number, blockSize: number, sampleType: CogSampleType, nodata: number): Uint8Array {
  const spp = level.bands.length;
  const rowSamples = blockSize * spp;
  const x0 = tx * blockSize;
  const y0 = ty * blockSize;
  const cols = Math.min(blockSize, level.width - x0);
  const rows = Math.min(blockSize, level.height - y0);
  if (sampleType === 'uint8') {
    const fill = clampByte(nodata);
    const out = new Uint8Array(rowSamples * blockSize).fill(fill);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const p = (y0 + r) * level.width + x0 + c;
        const at = r * rowSamples + c * spp;
        if (level.mask[p] === 0) continue;
        for (let s = 0; s < spp; s++) out[at + s] = clampByte(level.bands[s][p]);
      }
    }
    for (let r = 0; r < blockSize; r++) horizontalDifference(out, r * rowSamples, rowSamples, spp);
    return out;
  }
  const floats = new Float32Array(rowSamples * blockSize).fill(nodata);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const p = (y0 + r) * level.width + x0 + c;
      if (level.mask[p] === 0) continue;
      const at = r * rowSamples + c * spp;
      for (let s = 0; s < spp; s++) floats[at + s] = level.bands[s][p];
    }
  }
  return floatingPointPredict(littleEndianBytes(floats), rowSamples, spp, blockSize);
}

function clampByte(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.min(255, Math.round(value))) : 0;
}

/** Predictor 2 on one row of bytes: each sample minus the same sample of the previous pixel. */
function horizontalDifference(bytes: Uint8Array, start: number, length: number, stride: number): void {
  for (let i = start + length - 1; i >= start + stride; i--) bytes[i] = (bytes[i] - bytes[i - stride]) & 0xff;
}

/** Predictor 3 (TIFF Technical Note 3): per row, byte planes most significant first, then differenced. */
function floatingPointPredict(bytes: Uint8Array, rowSamples: number, spp: number, rows: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const rowBytes = rowSamples * 4;
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes;
    for (let i = 0; i < rowSamples; i++) {
      const from = base + 4 * i;
      // Little-endian sample: byte 3 is the most significant.
      out[base + i] = bytes[from + 3];
      out[base + rowSamples + i] = bytes[from + 2];
      out[base + 2 * rowSamples + i] = bytes[from + 1];
      out[base + 3 * rowSamples + i] = bytes[from];
    }
    horizontalDifference(out, base, rowBytes, spp);
  }
  return out;
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianBytes(values: Float32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return bytes;
}
