import { deflateSync } from 'node:zlib';

/**
 * Writes small (or deliberately lying) single-band tiled GeoTIFFs by hand, for the hardening tests: files of
 * tiny tiles, blocks that inflate to far more than they declare, tag arrays declared at absurd lengths.
 * Layout: header | IFD | out-of-line tag values | tile payloads. Little-endian; classic TIFF or BigTIFF.
 */
export interface HostileTiffSpec {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  /** 8, 16 or 32 (unsigned integers). */
  bitsPerSample?: number;
  /** 1 none, 8 deflate. */
  compression?: 1 | 8;
  /** 2: horizontal differencing (the payload must be encoded accordingly). */
  predictor?: 1 | 2;
  /**
   * The tile payloads: one buffer per tile, or one buffer every tile points at (all TileOffsets equal, so a
   * file of millions of tiles stays a few MB).
   */
  tiles: Buffer[] | { shared: Buffer };
  /** Declared TileOffsets/TileByteCounts length, when it should lie (the arrays are then not written). */
  declaredTileCount?: number;
  bigTiff?: boolean;
  /** Web Mercator origin (top-left) and pixel size in metres. */
  origin: [number, number];
  pixelSize: number;
}

type Entry = { tag: number; type: number; count: number; values?: number[]; bytes?: Buffer };

const SHORT = 3;
const LONG = 4;
const DOUBLE = 12;
const LONG8 = 16;

export function hostileTiff(spec: HostileTiffSpec): Buffer {
  const big = spec.bigTiff ?? false;
  const bits = spec.bitsPerSample ?? 8;
  const across = Math.ceil(spec.width / spec.tileWidth);
  const down = Math.ceil(spec.height / spec.tileHeight);
  const tileCount = across * down;
  const payloads = Array.isArray(spec.tiles) ? spec.tiles : [spec.tiles.shared];
  const offsetType = big ? LONG8 : LONG;
  const geoKeys = [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 3857];
  const entries: Entry[] = [
    { tag: 256, type: LONG, count: 1, values: [spec.width] },
    { tag: 257, type: LONG, count: 1, values: [spec.height] },
    { tag: 258, type: SHORT, count: 1, values: [bits] },
    { tag: 259, type: SHORT, count: 1, values: [spec.compression ?? 1] },
    { tag: 262, type: SHORT, count: 1, values: [1] },
    { tag: 277, type: SHORT, count: 1, values: [1] },
    { tag: 284, type: SHORT, count: 1, values: [1] },
    ...(spec.predictor && spec.predictor !== 1 ? [{ tag: 317, type: SHORT, count: 1, values: [spec.predictor] }] : []),
    { tag: 322, type: LONG, count: 1, values: [spec.tileWidth] },
    { tag: 323, type: LONG, count: 1, values: [spec.tileHeight] },
    { tag: 324, type: offsetType, count: spec.declaredTileCount ?? tileCount },
    { tag: 325, type: offsetType, count: spec.declaredTileCount ?? tileCount },
    { tag: 339, type: SHORT, count: 1, values: [1] },
    { tag: 33550, type: DOUBLE, count: 3, values: [spec.pixelSize, spec.pixelSize, 0] },
    { tag: 33922, type: DOUBLE, count: 6, values: [0, 0, 0, spec.origin[0], spec.origin[1], 0] },
    { tag: 34735, type: SHORT, count: geoKeys.length, values: geoKeys },
  ];
  const typeSize: Record<number, number> = { [SHORT]: 2, [LONG]: 4, [DOUBLE]: 8, [LONG8]: 8 };
  const headerSize = big ? 16 : 8;
  const entrySize = big ? 20 : 12;
  const inlineBytes = big ? 8 : 4;
  const ifdSize = (big ? 8 : 2) + entries.length * entrySize + (big ? 8 : 4);
  let cursor = headerSize + ifdSize;
  const placed = new Map<number, number>();
  for (const entry of entries) {
    const size = typeSize[entry.type]! * entry.count;
    if (size > inlineBytes && entry.values) {
      placed.set(entry.tag, cursor);
      cursor += size;
    }
  }
  // The tile arrays, unless their declared length is a lie (then they point past the end of the file).
  const writeArrays = spec.declaredTileCount === undefined;
  const arrayBytes = tileCount * typeSize[offsetType]!;
  // One tile's offset and byte count fit in their entries; more go after the IFD.
  const inlineArrays = writeArrays && arrayBytes <= inlineBytes;
  const offsetsAt = cursor;
  const countsAt = cursor + arrayBytes;
  if (writeArrays && !inlineArrays) cursor += 2 * arrayBytes;
  const payloadAt: number[] = [];
  for (const payload of payloads) {
    payloadAt.push(cursor);
    cursor += payload.length;
  }
  const out = Buffer.alloc(cursor);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(big ? 43 : 42, 2);
  if (big) {
    out.writeUInt16LE(8, 4);
    out.writeBigUInt64LE(BigInt(headerSize), 8);
  } else out.writeUInt32LE(headerSize, 4);
  const writeValue = (type: number, value: number, at: number) => {
    if (type === SHORT) out.writeUInt16LE(value, at);
    else if (type === LONG) out.writeUInt32LE(value, at);
    else if (type === DOUBLE) out.writeDoubleLE(value, at);
    else out.writeBigUInt64LE(BigInt(value), at);
  };
  const writeOffset = (value: number, at: number) => (big ? out.writeBigUInt64LE(BigInt(value), at) : out.writeUInt32LE(value, at));
  let at = headerSize;
  if (big) out.writeBigUInt64LE(BigInt(entries.length), at);
  else out.writeUInt16LE(entries.length, at);
  at += big ? 8 : 2;
  for (const entry of entries) {
    out.writeUInt16LE(entry.tag, at);
    out.writeUInt16LE(entry.type, at + 2);
    if (big) out.writeBigUInt64LE(BigInt(entry.count), at + 4);
    else out.writeUInt32LE(entry.count, at + 4);
    const valueAt = at + (big ? 12 : 8);
    if (inlineArrays && (entry.tag === 324 || entry.tag === 325)) {
      writeValue(offsetType, entry.tag === 324 ? payloadAt[0]! : payloads[0]!.length, valueAt);
    } else if (entry.tag === 324 || entry.tag === 325) {
      writeOffset(writeArrays ? (entry.tag === 324 ? offsetsAt : countsAt) : cursor + 1_000_000, valueAt);
    } else if (placed.has(entry.tag)) {
      const base = placed.get(entry.tag)!;
      writeOffset(base, valueAt);
      entry.values!.forEach((value, i) => writeValue(entry.type, value, base + i * typeSize[entry.type]!));
    } else {
      entry.values!.forEach((value, i) => writeValue(entry.type, value, valueAt + i * typeSize[entry.type]!));
    }
    at += entrySize;
  }
  writeOffset(0, at); // no next IFD
  if (writeArrays && !inlineArrays) {
    for (let i = 0; i < tileCount; i++) {
      const which = Array.isArray(spec.tiles) ? i : 0;
      writeValue(offsetType, payloadAt[which]!, offsetsAt + i * typeSize[offsetType]!);
      writeValue(offsetType, payloads[which]!.length, countsAt + i * typeSize[offsetType]!);
    }
  }
  payloads.forEach((payload, i) => payload.copy(out, payloadAt[i]!));
  return out;
}

/** A deflated tile of `bytes` zero bytes (inflates to exactly that; zeros compress about 1000:1). */
export function zeroTile(bytes: number): Buffer {
  return deflateSync(Buffer.alloc(bytes), { level: 9 });
}

/**
 * A deflated uint16 tile with horizontal differencing (predictor 2): a smooth ramp, so decoding it takes real
 * work (inflate plus the predictor pass) while the payload stays small.
 */
export function rampTile16(width: number, height: number, seed = 0): Buffer {
  const raw = Buffer.alloc(width * height * 2);
  for (let row = 0; row < height; row++) {
    // Differences of a ramp: the first sample, then a constant step (with a little per-row variation).
    raw.writeUInt16LE((row * 7 + seed) & 0xffff, row * width * 2);
    for (let col = 1; col < width; col++) raw.writeUInt16LE(1 + ((row + col + seed) % 3 === 0 ? 1 : 0), (row * width + col) * 2);
  }
  return deflateSync(raw, { level: 1 });
}
