/**
 * The rules of GDAL's validate_cloud_optimized_geotiff.py (GDAL 3.6, osgeo_utils/samples), re-implemented over
 * the file's bytes so that tests can check a COG without Python: the same checks, the same messages. Classic and
 * BigTIFF headers, both byte orders. `fullCheck` adds the per-block checks (row-major order, size leader,
 * repeated trailer) that the script runs with --full-check=yes.
 */
export interface CogReport {
  errors: string[];
  warnings: string[];
  ifdOffsets: number[];
  dataOffsets: number[];
  levels: { width: number; height: number; tileWidth?: number; tileHeight?: number }[];
  structural: Record<string, string>;
}

interface Ifd {
  offset: number;
  subfileType: number;
  width: number;
  height: number;
  tileWidth?: number;
  tileHeight?: number;
  rowsPerStrip?: number;
  offsets: number[];
  counts: number[];
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8 };

export function validateCog(bytes: Uint8Array, options: { fullCheck?: boolean } = {}): CogReport {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const order = String.fromCharCode(bytes[0], bytes[1]);
  if (order !== 'II' && order !== 'MM') throw new Error('not a TIFF');
  const le = order === 'II';
  const magic = view.getUint16(2, le);
  const big = magic === 43;
  if (magic !== 42 && !big) throw new Error('not a TIFF');
  const u16 = (at: number) => view.getUint16(at, le);
  const u32 = (at: number) => view.getUint32(at, le);
  const u64 = (at: number) => Number(view.getBigUint64(at, le));
  const firstIfd = big ? u64(8) : u32(4);

  const ifds: Ifd[] = [];
  for (let at = firstIfd; at !== 0 && ifds.length < 64; ) {
    const count = big ? u64(at) : u16(at);
    const entrySize = big ? 20 : 12;
    const start = at + (big ? 8 : 2);
    const tags = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      const entry = start + i * entrySize;
      const tag = u16(entry);
      const type = u16(entry + 2);
      const n = big ? u64(entry + 4) : u32(entry + 4);
      const size = (TYPE_SIZE[type] ?? 1) * n;
      const inline = size <= (big ? 8 : 4);
      const valueAt = inline ? entry + (big ? 12 : 8) : big ? u64(entry + 12) : u32(entry + 8);
      const read = (k: number) =>
        type === 3 ? u16(valueAt + 2 * k) : type === 4 ? u32(valueAt + 4 * k) : type === 16 ? u64(valueAt + 8 * k) : bytes[valueAt + k];
      if ([254, 256, 257, 273, 278, 279, 322, 323, 324, 325].includes(tag)) tags.set(tag, Array.from({ length: n }, (_, k) => read(k)));
    }
    const tiled = tags.has(322);
    ifds.push({
      offset: at,
      subfileType: tags.get(254)?.[0] ?? 0,
      width: tags.get(256)![0],
      height: tags.get(257)![0],
      tileWidth: tags.get(322)?.[0],
      tileHeight: tags.get(323)?.[0],
      rowsPerStrip: tags.get(278)?.[0],
      offsets: (tiled ? tags.get(324) : tags.get(273)) ?? [],
      counts: (tiled ? tags.get(325) : tags.get(279)) ?? [],
    });
    at = big ? u64(start + count * entrySize) : u32(start + count * entrySize);
  }

  const errors: string[] = [];
  const warnings: string[] = [];
  // Masks (subfile type bit 4) are not levels; the first IFD is the main image, reduced-resolution ones overviews.
  const images = ifds.filter((ifd) => (ifd.subfileType & 4) === 0);
  const [main, ...overviews] = images;
  const blockWidth = (ifd: Ifd) => ifd.tileWidth ?? ifd.width;

  if (main.width > 512 || main.height > 512) {
    if (blockWidth(main) === main.width && blockWidth(main) > 1024) errors.push('The file is greater than 512xH or Wx512, but is not tiled');
    if (overviews.length === 0) warnings.push('The file is greater than 512xH or Wx512, it is recommended to include internal overviews');
  }

  const structural: Record<string, string> = {};
  const ifdOffsets = [main.offset];
  if (main.offset !== 8 && main.offset !== 16) {
    let expected = big ? 16 : 8;
    const pattern = 'GDAL_STRUCTURAL_METADATA_SIZE=000000 bytes\n';
    const got = latin1(bytes, expected, pattern.length);
    if (got.length === pattern.length && got.startsWith('GDAL_STRUCTURAL_METADATA_SIZE=')) {
      const size = Number(got.slice('GDAL_STRUCTURAL_METADATA_SIZE='.length, 'GDAL_STRUCTURAL_METADATA_SIZE='.length + 6));
      const text = latin1(bytes, expected + pattern.length, size);
      for (const line of text.split('\n')) {
        const [key, value] = line.split('=');
        if (key && value !== undefined) structural[key.trim()] = value.trim();
      }
      if (text.includes('KNOWN_INCOMPATIBLE_EDITION=YES')) errors.push('KNOWN_INCOMPATIBLE_EDITION=YES is declared in the file');
      expected += pattern.length + size;
      expected += expected % 2;
    }
    if (expected !== main.offset) errors.push(`The offset of the main IFD should be ${expected}. It is ${main.offset} instead`);
  }

  overviews.forEach((ovr, i) => {
    const previous = i === 0 ? main : overviews[i - 1];
    if (ovr.width > previous.width || ovr.height > previous.height) {
      errors.push(i === 0 ? 'First overview has larger dimension than main band' : `Overview of index ${i} has larger dimension than overview of index ${i - 1}`);
    }
    if (blockWidth(ovr) === ovr.width && blockWidth(ovr) > 1024) errors.push(`Overview of index ${i} is not tiled`);
    ifdOffsets.push(ovr.offset);
    if (ovr.offset < previous.offset) {
      errors.push(
        i === 0
          ? `The offset of the IFD for overview of index ${i} is ${ovr.offset}, whereas it should be greater than the one of the main image, which is at byte ${previous.offset}`
          : `The offset of the IFD for overview of index ${i} is ${ovr.offset}, whereas it should be greater than the one of index ${i - 1}, which is at byte ${previous.offset}`,
      );
    }
  });

  const firstBlock = (ifd: Ifd) => ifd.offsets.find((offset) => offset > 0) ?? 0;
  const dataOffsets = images.map(firstBlock);
  const last = dataOffsets.length - 1;
  if (dataOffsets[last] !== 0 && dataOffsets[last] < ifdOffsets[last]) {
    errors.push(
      overviews.length > 0
        ? 'The offset of the first block of the smallest overview should be after its IFD'
        : 'The offset of the first block of the image should be after its IFD',
    );
  }
  for (let i = dataOffsets.length - 2; i > 0; i--) {
    if (dataOffsets[i] !== 0 && dataOffsets[i] < dataOffsets[i + 1]) {
      errors.push(`The offset of the first block of overview of index ${i - 1} should be after the one of the overview of index ${i}`);
    }
  }
  if (dataOffsets.length >= 2 && dataOffsets[0] !== 0 && dataOffsets[0] < dataOffsets[1]) {
    errors.push(`The offset of the first block of the main resolution image should be after the one of the overview of index ${overviews.length - 1}`);
  }

  const rowMajor = structural.BLOCK_ORDER === 'ROW_MAJOR';
  const leader = structural.BLOCK_LEADER === 'SIZE_AS_UINT4';
  const trailer = structural.BLOCK_TRAILER === 'LAST_4_BYTES_REPEATED';
  if (options.fullCheck && (rowMajor || leader || trailer)) {
    images.forEach((ifd, index) => {
      const name = index === 0 ? 'Main resolution image' : `Overview ${index - 1}`;
      let lastOffset = 0;
      ifd.offsets.forEach((offset, b) => {
        const across = Math.ceil(ifd.width / blockWidth(ifd));
        const [x, y] = [b % across, Math.floor(b / across)];
        const count = ifd.counts[b] ?? 0;
        if (offset > 0) {
          if (rowMajor && offset < lastOffset) errors.push(`${name}: offset of block (${x}, ${y}) is smaller than previous block`);
          if (leader && view.getUint32(offset - 4, true) !== count) {
            errors.push(`${name}: for block (${x}, ${y}), size in leader bytes is ${view.getUint32(offset - 4, true)} instead of ${count}`);
          }
          if (trailer && count >= 4 && view.getUint32(offset + count - 4, true) !== view.getUint32(offset + count, true)) {
            errors.push(`${name}: for block (${x}, ${y}), trailer bytes are invalid`);
          }
        }
        lastOffset = offset;
      });
    });
  }

  return {
    errors,
    warnings,
    ifdOffsets,
    dataOffsets,
    levels: images.map(({ width, height, tileWidth, tileHeight }) => ({ width, height, tileWidth, tileHeight })),
    structural,
  };
}

function latin1(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, Math.min(bytes.length, at + length)));
}
