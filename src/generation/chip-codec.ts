import { deflateSync, inflateSync } from 'node:zlib';

/**
 * The cached form of one generated chip: what blending needs (values in physical units, LULC class scores),
 * the validity mask of its inputs, compactly encoded.
 *
 * Each band is quantised linearly to int16 over its own [min, max] (valid pixels only): the error is at most
 * (max - min) / 65534 / 2, e.g. 1.5 cm for a DEM chip spanning 1,900 m. The engine blends only decoded chips,
 * so a chip read from the cache and one generated a moment ago give identical tiles.
 *
 * Layout (little-endian): "TMCH" | u8 version | u8 reserved | u16 width | u16 height | u16 bands |
 * per band f64 offset, f64 scale | deflate(mask u8[w*h] | per band i16[w*h]).
 */
export interface ChipValues {
  width: number;
  height: number;
  /** One plane per band (LULC: one per class score), row-major, north-up. */
  bands: Float32Array[];
  /** 255 where every input was valid, 0 elsewhere. */
  mask: Uint8Array;
}

const MAGIC = 0x48434d54; // "TMCH"
const VERSION = 1;
const HEADER = 12;
const LEVELS = 32767;

export function encodeChip(chip: ChipValues): Uint8Array {
  const size = chip.width * chip.height;
  const header = Buffer.alloc(HEADER + chip.bands.length * 16);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt8(VERSION, 4);
  header.writeUInt16LE(chip.width, 6);
  header.writeUInt16LE(chip.height, 8);
  header.writeUInt16LE(chip.bands.length, 10);
  const payload = Buffer.alloc(size + chip.bands.length * size * 2);
  // A DataView, not Buffer.writeInt16LE: the per-value Buffer calls cost more than the quantisation itself.
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  payload.set(chip.mask, 0);
  chip.bands.forEach((band, k) => {
    let min = Infinity;
    let max = -Infinity;
    for (let p = 0; p < size; p += 1) {
      if (chip.mask[p] === 0) continue;
      const v = band[p]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const offset = min <= max ? (min + max) / 2 : 0;
    const scale = min < max ? (max - min) / (2 * LEVELS) : 0;
    header.writeDoubleLE(offset, HEADER + k * 16);
    header.writeDoubleLE(scale, HEADER + k * 16 + 8);
    const base = size + k * size * 2;
    for (let p = 0; p < size; p += 1) {
      const q = chip.mask[p] === 0 || scale === 0 ? 0 : Math.max(-LEVELS, Math.min(LEVELS, Math.round((band[p]! - offset) / scale)));
      view.setInt16(base + p * 2, q, true);
    }
  });
  return Buffer.concat([header, deflateSync(payload, { level: 6 })]);
}

export function decodeChip(bytes: Uint8Array): ChipValues {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.byteLength < HEADER || buffer.readUInt32LE(0) !== MAGIC) throw new Error('not an encoded chip (bad magic)');
  if (buffer.readUInt8(4) !== VERSION) throw new Error(`encoded chip version ${buffer.readUInt8(4)} is not ${VERSION}`);
  const width = buffer.readUInt16LE(6);
  const height = buffer.readUInt16LE(8);
  const count = buffer.readUInt16LE(10);
  const size = width * height;
  const payload = inflateSync(buffer.subarray(HEADER + count * 16));
  if (payload.byteLength !== size + count * size * 2) throw new Error('encoded chip payload has the wrong size');
  const mask = new Uint8Array(payload.subarray(0, size));
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const bands = Array.from({ length: count }, (_, k) => {
    const offset = buffer.readDoubleLE(HEADER + k * 16);
    const scale = buffer.readDoubleLE(HEADER + k * 16 + 8);
    const band = new Float32Array(size);
    const base = size + k * size * 2;
    for (let p = 0; p < size; p += 1) band[p] = mask[p] === 0 ? 0 : offset + scale * view.getInt16(base + p * 2, true);
    return band;
  });
  return { width, height, bands, mask };
}
